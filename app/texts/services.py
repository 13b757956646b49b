"""Overrides of the catalogue's texts: the list of texts, checks, preview, save and reset.

Overrides are read once per process and kept ``CACHE_SECONDS``: the checkout's alert is
rendered inside the ledger's transaction, and a read per alert would be a statement on
the hot path. A save or reset drops this process's copy at once; other processes see it
within ``CACHE_SECONDS``.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from babel.messages.extract import extract_from_dir
from sqlalchemy import select

import app as app_package
from app.audit.services import current_actor, record
from app.db import db
from app.errors import InvalidRequest, NotFound
from app.i18n import LOCALES, catalogue
from app.kept import drop, kept
from app.texts.models import MessageText

LANGUAGES = tuple(LOCALES)
GROUPS = ("alerts", "replies", "others")
#: Seconds a process keeps the overrides it read.
CACHE_SECONDS = 5.0
#: Longest override: a few SMS segments, far more than any text the catalogue holds.
MAX_TEXT_CHARS = 1000
#: Packages whose texts staff read, not members: they are not offered here.
_STAFF_PACKAGES = ("admin", "auth", "audit", "approvals")
#: Texts read from the catalogue directly, not through ``app.i18n.render``: the WeChat
#: menu's labels, pushed to WeChat by a command, not sent as messages.
_NOT_RENDERED = ("wechat/menus.py",)
_PLACEHOLDER = re.compile(r"%\((\w+)\)")
_CACHE = "laoyou.texts.cache"

#: What a placeholder stands for in the preview; names not here show as ``[name]``.
_SAMPLES: dict[str, Any] = {
    "last4": "8888",
    "amount": "128.00",
    "balance": "372.00",
    "threshold": "50.00",
    "time": "12-07 14:30",
    "points": "+128",
    "points_total": 1024,
    "visits": 1,
    "visits_left": 9,
    "day": "2026-12-31",
    "number": "8800000088888888",
    "code": "123456",
    "minutes": 10,
    "count": 3,
    "phone": "+8613800138000",
}
_LOCAL_SAMPLES = {
    "store": {"zh-Hans": "静安店", "zh-Hant": "靜安店", "en": "Jing'an"},
    "level": {"zh-Hans": "金卡", "zh-Hant": "金卡", "en": "Gold"},
    "name": {"zh-Hans": "王芳", "zh-Hant": "王芳", "en": "Wang Fang"},
}


@dataclass(frozen=True)
class Entry:
    """One text members read: its msgid, where the code uses it and its group."""

    key: str
    msgid: str
    group: str
    locations: tuple[str, ...]


def msgid_key(msgid: str) -> str:
    return hashlib.sha256(msgid.encode("utf-8")).hexdigest()[:12]


def _group(path: str) -> str:
    if path == "messaging/alerts.py":
        return "alerts"
    return "replies" if path.startswith("bot/") else "others"


@functools.cache
def entries() -> tuple[Entry, ...]:
    """Every msgid the code renders for members, found as ``pybabel extract`` finds them.

    Read from the code rather than the ``.pot`` so a text added by hand to the catalogue
    without a location still appears once the code uses it.
    """
    root = Path(app_package.__file__).parent
    found: dict[str, list[str]] = {}
    for path, line, msgid, _comments, _context in extract_from_dir(
        str(root), method_map=[("**.py", "python")]
    ):
        if (
            not isinstance(msgid, str)
            or not msgid
            or path.split("/")[0] in _STAFF_PACKAGES
            or path in _NOT_RENDERED
        ):
            continue
        found.setdefault(msgid, []).append(f"{path}:{line}")
    listed = [
        Entry(msgid_key(msgid), msgid, _group(where[0].split(":")[0]), tuple(where))
        for msgid, where in found.items()
    ]
    return tuple(sorted(listed, key=_order))


def _order(e: Entry) -> tuple[int, str, int]:
    path, _, line = e.locations[0].rpartition(":")
    return GROUPS.index(e.group), path, int(line)


def entry(key: str) -> Entry:
    found = next((e for e in entries() if e.key == key), None)
    if found is None:
        raise NotFound("no such text", reason="not_found")
    return found


def placeholders(text: str) -> set[str]:
    return set(_PLACEHOLDER.findall(text))


def sample_values(msgid: str, language: str) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in placeholders(msgid):
        local = _LOCAL_SAMPLES.get(name)
        values[name] = local[language] if local else _SAMPLES.get(name, f"[{name}]")
    return values


def check(msgid: str, text: str) -> None:
    """Refuse a text members could not read as the code renders it.

    The placeholders must be exactly the msgid's: a missing one loses a value the member
    needs (the balance), an unknown one has no value and would fail the rendering.
    """
    if not text.strip():
        raise InvalidRequest("the text is empty", reason="text_empty")
    if len(text) > MAX_TEXT_CHARS:
        raise InvalidRequest("the text is too long", reason="text_too_long")
    expected, given = placeholders(msgid), placeholders(text)
    missing, unknown = sorted(expected - given), sorted(given - expected)
    if missing or unknown:
        raise InvalidRequest(
            "the text's placeholders differ from the original's",
            reason="placeholders",
            missing=missing,
            unknown=unknown,
        )
    if expected:
        try:
            text % sample_values(msgid, "en")
        except (KeyError, ValueError, TypeError) as exc:
            raise InvalidRequest(f"the text does not render: {exc}", reason="text_format") from exc


def preview(key: str, language: str, text: str) -> str:
    """``text`` as a member would read it, with sample values (checked as a save is)."""
    found = entry(key)
    _check_language(language)
    check(found.msgid, text)
    values = sample_values(found.msgid, language)
    return text % values if values else text


def catalogue_text(msgid: str, language: str) -> str:
    return str(catalogue(language).ugettext(msgid))


def default_preview(msgid: str, language: str) -> str:
    values = sample_values(msgid, language)
    text = catalogue_text(msgid, language)
    return text % values if values else text


def overrides(language: str) -> Mapping[str, str]:
    """This language's overrides by msgid, read at most once per ``CACHE_SECONDS``."""
    return kept(_CACHE, CACHE_SECONDS, _read_overrides).get(language, {})


def _read_overrides() -> dict[str, dict[str, str]]:
    by_language: dict[str, dict[str, str]] = {}
    for msgid, lang, text in db.session.execute(
        select(MessageText.msgid, MessageText.language, MessageText.text)
    ):
        by_language.setdefault(lang, {})[msgid] = text
    return by_language


def preload() -> None:
    """Read the overrides now, as a process that has answered a message has them."""
    overrides(LANGUAGES[0])


def invalidate() -> None:
    drop(_CACHE)


def override_rows(key: str) -> dict[str, MessageText]:
    rows = db.session.scalars(select(MessageText).where(MessageText.msgid_key == key))
    return {row.language: row for row in rows}


def _check_language(language: str) -> None:
    if language not in LANGUAGES:
        raise InvalidRequest("unknown language", reason="language")


def save_override(key: str, language: str, text: str) -> MessageText:
    """Use ``text`` for this msgid in ``language`` from the next message on; audited."""
    found = entry(key)
    _check_language(language)
    text = text.replace("\r\n", "\n")
    check(found.msgid, text)
    row = override_rows(key).get(language)
    before = row.text if row is not None else None
    if row is None:
        row = MessageText(msgid_key=key, msgid=found.msgid, language=language, text=text)
        db.session.add(row)
    row.text = text
    row.updated_by = current_actor().name[:120]
    db.session.flush()
    record(
        "message_text.update",
        "message_text",
        f"{key}:{language}",
        before={"msgid": found.msgid, "text": before},
        after={"msgid": found.msgid, "text": text},
    )
    invalidate()
    return row


def reset_override(key: str, language: str) -> bool:
    """Back to the catalogue's text; False when there was no override."""
    found = entry(key)
    _check_language(language)
    row = override_rows(key).get(language)
    if row is None:
        return False
    record(
        "message_text.reset",
        "message_text",
        f"{key}:{language}",
        before={"msgid": found.msgid, "text": row.text},
        after={"msgid": found.msgid, "text": None},
    )
    db.session.delete(row)
    db.session.flush()
    invalidate()
    return True


def override_table() -> dict[tuple[str, str], str]:
    """Every override by (msgid key, language), read now (the panel shows what is saved)."""
    rows = db.session.execute(select(MessageText.msgid_key, MessageText.language, MessageText.text))
    return {(key, language): text for key, language, text in rows}
