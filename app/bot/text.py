"""Reading what people type: normalisation, input hygiene and which language it is in.

Normalisation makes ``ＪＦ``, ``jf`` and `` Jf `` the same command: NFKC (full-width
letters and digits become ASCII), spaces collapsed, trimmed; matching is
case-insensitive. Hygiene refuses what we cannot or should not read before any
command runs, so a refused message changes nothing.
"""

from __future__ import annotations

import re
import unicodedata

#: SMS concatenation stops at 10 segments (1,600 characters); nothing longer is a command.
MAX_MESSAGE_CHARS = 1600

_SPACES = re.compile(r"\s+")
#: Emoji blocks, the emoji variation selector and tag characters (flags of regions).
_EMOJI_RANGES = (
    (0x1F000, 0x1FAFF),
    (0x2600, 0x27BF),
    (0x2B50, 0x2B55),
    (0xFE0F, 0xFE0F),
    (0xE0020, 0xE007F),
)
#: Letters of these scripts mix freely in our members' messages (留言 the coffee 很好).
_HOME_SCRIPTS = frozenset({"CJK", "LATIN"})

# Characters written differently in Simplified and Traditional Chinese, aligned pair by
# pair. Enough common ones to tell a stranger's message apart; not a converter.
_SIMPLIFIED = (
    "这个们来说时会为与对从还吗么点开关让谢请问体过气电话号码记录账户员费购买卖东余额积注册"
    "绑语订阅奖帮发动经长门间见现没钱级务网给实应当学国业样华机车书头爱欢谁认识证办乐图签单"
    "换饭馆简觉响听读写习惯带节岁边难题"
)
_TRADITIONAL = (
    "這個們來說時會為與對從還嗎麼點開關讓謝請問體過氣電話號碼記錄賬戶員費購買賣東餘額積註冊"
    "綁語訂閱獎幫發動經長門間見現沒錢級務網給實應當學國業樣華機車書頭愛歡誰認識證辦樂圖簽單"
    "換飯館簡覺響聽讀寫習慣帶節歲邊難題"
)
SIMPLIFIED_ONLY = frozenset(_SIMPLIFIED) - frozenset(_TRADITIONAL)
TRADITIONAL_ONLY = frozenset(_TRADITIONAL) - frozenset(_SIMPLIFIED)


def normalise(text: str) -> str:
    """NFKC, whitespace collapsed to single spaces, trimmed (case kept for arguments)."""
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", text)).strip()


def after_keyword(raw: str, keyword: str) -> str:
    """What follows ``keyword`` in the text as sent (spaces collapsed, nothing else changed).

    Free text (a message to the store) keeps the sender's own punctuation: NFKC
    would turn Chinese full-width ，？ into ASCII.
    """
    light = _SPACES.sub(" ", raw).strip()
    for end in range(1, min(len(light), len(keyword) * 2) + 1):
        if unicodedata.normalize("NFKC", light[:end]).upper() == keyword:
            return light[end:].strip()
    return normalise(raw)[len(keyword) :].strip()


def problem(raw: str) -> str | None:
    """Why a message cannot be read, or None: too_long, emoji, control, mixed_scripts."""
    if len(raw) > MAX_MESSAGE_CHARS:
        return "too_long"
    if any(_is_emoji(ch) for ch in raw):
        return "emoji"
    if any(_is_control(ch) for ch in raw):
        return "control"
    if _mixes_scripts(unicodedata.normalize("NFKC", raw)):
        return "mixed_scripts"
    return None


def _is_emoji(ch: str) -> bool:
    code = ord(ch)
    return any(low <= code <= high for low, high in _EMOJI_RANGES)


def _is_control(ch: str) -> bool:
    if ch in "\n\r\t":
        return False
    return unicodedata.category(ch) in ("Cc", "Cf", "Co", "Cs", "Cn")


def script(ch: str) -> str | None:
    """The script of a letter, from its Unicode name (``LATIN``, ``CJK``, ``CYRILLIC``…)."""
    if not ch.isalpha():
        return None
    name = unicodedata.name(ch, "")
    return name.split(" ", 1)[0] if name else None


def _mixes_scripts(text: str) -> bool:
    """Letters from two scripts where one is foreign to us: ``МSG`` (a Cyrillic М)."""
    scripts = {s for s in map(script, text) if s}
    return len(scripts) > 1 and not scripts <= _HOME_SCRIPTS


def is_han(ch: str) -> bool:
    return script(ch) == "CJK"


def detect_language(text: str, default: str) -> str:
    """Traditional, Simplified or English, for a stranger's free text."""
    han = [ch for ch in text if is_han(ch)]
    if not han:
        return "en" if any(script(ch) == "LATIN" for ch in text) else default
    traditional = sum(ch in TRADITIONAL_ONLY for ch in han)
    simplified = sum(ch in SIMPLIFIED_ONLY for ch in han)
    return "zh-Hant" if traditional > simplified else "zh-Hans"
