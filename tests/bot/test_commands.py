"""The command matrix, driven through ``handle_message`` as a phone would, on both databases."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import func, select

from app.cards.models import CardEvent
from app.cards.services import card_history, member_cards
from app.clock import frozen
from app.db import db
from app.ledger.balances import points_summary
from app.members.models import Member
from tests.bot.support import give_points, give_stored_value, give_visits

PHONE = "+8613800138000"
CST = dt.timezone(dt.timedelta(hours=8))


def members() -> int:
    return db.session.scalar(select(func.count()).select_from(Member)) or 0


# --- every keyword reaches its command, in every language ------------------------------

KEYWORDS = {
    "help": ["帮助", "幫助", "HELP", "help", "?", "？", "INFO"],
    "join": ["注册", "註冊", "ZC", "zc", "JOIN", "Join"],
    "points": ["积分", "積分", "JF", "jf", "ＪＦ", "Ｊｆ", " jf ", "POINTS", "points"],
    "balance": ["余额", "餘額", "YE", "ye", "BAL", "bal", "BALANCE"],
    "bind": ["绑定", "綁定", "BD", "BIND"],
    "vote": ["投票", "TP", "VOTE", "vote"],
    "draw": ["抽奖", "抽獎", "CJ", "DRAW", "draw"],
    "lang": ["语言", "語言", "LANG"],
    "message": ["留言", "LY", "MSG"],
    "alerts": ["提醒", "ALERTS"],
}


def test_every_keyword_reaches_its_command(bot: Any, make_member: Any) -> None:
    make_member(PHONE, language="en")
    phone = bot(PHONE)
    for name, words in KEYWORDS.items():
        for word in words:
            reply = phone.send(word)
            assert (reply.command, reply.language) == (name, "en"), word
            assert reply.text and not reply.silent, word


@pytest.mark.parametrize(
    ("text", "language"),
    [("JF", "zh-Hans"), ("积分", "zh-Hans"), ("積分", "zh-Hant"), ("POINTS", "en")],
)
def test_a_stranger_is_told_how_to_join_in_the_keywords_language(
    bot: Any, text: str, language: str
) -> None:
    reply = bot().send(text)
    expected = {
        "zh-Hans": "您还不是会员。请回复“注册 您的姓名”加入会员后再试。",
        "zh-Hant": "您還不是會員。請回覆「註冊 您的姓名」加入會員後再試。",
        "en": "You are not a member yet. Text JOIN followed by your name to join, then try again.",
    }[language]
    assert (reply.text, reply.language, reply.command) == (expected, language, "join_first")
    assert members() == 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("你好", "抱歉，没有看懂您的指令。回复“注册 您的姓名”成为会员，或回复“帮助”查看指令。"),
        (
            "請問這個",
            "抱歉，沒有看懂您的指令。回覆「註冊 您的姓名」成為會員，或回覆「幫助」查看指令。",
        ),
        (
            "hello",
            "Sorry, we did not understand that. Text JOIN followed by your name to become "
            "a member, or HELP for the commands.",
        ),
    ],
)
def test_a_stranger_writing_anything_else_is_pointed_to_join(
    bot: Any, text: str, expected: str
) -> None:
    reply = bot().send(text)
    assert (reply.text, reply.command) == (expected, "unknown")


def test_a_member_writing_anything_else_is_pointed_to_help(bot: Any, make_member: Any) -> None:
    make_member(PHONE, language="zh-Hans")
    reply = bot(PHONE).send("今天天气不错")
    assert reply.text == "抱歉，没有看懂您的指令。回复“帮助”查看全部指令。"
    assert reply.command == "unknown"


def test_help_for_members_and_strangers(bot: Any, make_member: Any) -> None:
    assert bot().text("帮助") == (
        "欢迎！回复“注册 您的姓名”即可成为会员、累积积分。回复“帮助”查看指令，回复“TD”退订。"
    )
    make_member(PHONE, language="zh-Hant")
    assert bot(PHONE).text("?").startswith("指令：積分(JF)｜餘額(YE)｜綁定(BD)")


@pytest.mark.parametrize(
    ("language", "ending"),
    [
        ("zh-Hans", "礼品卡绑定须加密码：绑定 卡号 密码（密码随卡提供）。"),
        ("zh-Hant", "禮品卡綁定須加密碼：綁定 卡號 密碼（密碼隨卡提供）。"),
        ("en", "Gift cards: BIND card-number PIN (the PIN comes with the card)."),
    ],
)
def test_help_says_a_gift_card_is_bound_with_its_pin(
    bot: Any, make_member: Any, language: str, ending: str
) -> None:
    make_member(PHONE, language=language)
    assert bot(PHONE).text("HELP").endswith(ending)


# --- JOIN ------------------------------------------------------------------------------


def test_join_in_simplified_makes_a_member_with_the_phone_as_card_number(bot: Any) -> None:
    reply = bot(PHONE).send("ZC")
    assert reply.text == (
        "欢迎加入！您已成为会员，卡号就是您的手机号 13800138000。"
        "回复“积分”查询积分，回复“帮助”查看指令。"
    )
    member = db.session.scalar(select(Member).where(Member.phone == PHONE))
    assert member is not None
    assert (member.language, member.name, member.home_store.code) == ("zh-Hans", None, "SH01")
    assert len(member_cards(member)) == 1


def test_join_in_traditional_with_a_name(bot: Any) -> None:
    reply = bot(PHONE).send("註冊 王小明")
    assert reply.text.startswith(
        "王小明，歡迎加入！您已成為會員，卡號就是您的手機號碼 13800138000。"
    )
    member = db.session.scalar(select(Member).where(Member.phone == PHONE))
    assert (member.language, member.name) == ("zh-Hant", "王小明")


def test_join_twice_says_already_a_member(bot: Any) -> None:
    phone = bot(PHONE)
    assert phone.send("JOIN Alice Smith").text == (
        "Welcome, Alice Smith! You are now a member. Your card number is your phone number, "
        "13800138000. Text POINTS for your points, HELP for the commands."
    )
    assert phone.text("JOIN") == (
        "You are already a member. Your card number is 13800138000. Text HELP for the commands."
    )
    assert members() == 1


def test_join_from_abroad_shows_the_international_number(bot: Any) -> None:
    reply = bot("+14155550123").send("JOIN")
    assert "your phone number, +14155550123." in reply.text


def test_join_with_a_name_too_long_changes_nothing(bot: Any) -> None:
    reply = bot(PHONE).send("JOIN " + "x" * 61)
    assert reply.text == "That name is too long. Please send JOIN followed by a shorter name."
    assert members() == 0


class TestHomeStoreSetting:
    @pytest.fixture
    def app_config(self) -> dict[str, Any]:
        return {
            "BOT_RAISE_ERRORS": True,
            "BOT_RATE_LIMIT": "1000/minute",
            "DEFAULT_HOME_STORE": "bj01",
        }

    def test_join_uses_default_home_store(self, bot: Any, make_store: Any) -> None:
        make_store("BJ01", "三里屯店")
        bot(PHONE).send("ZC")
        member = db.session.scalar(select(Member).where(Member.phone == PHONE))
        assert member.home_store.code == "BJ01"


# --- POINTS and BAL --------------------------------------------------------------------


def test_points_with_level_and_next_expiry(bot: Any, make_member: Any, make_level: Any) -> None:
    gold = make_level("金卡", 3)
    member = make_member(PHONE, language="zh-Hans")
    member.level = gold
    card = member_cards(member)[0]
    with frozen(dt.datetime(2026, 12, 1, 10, 0, tzinfo=CST)):
        give_points(card, 1080)
        give_points(card, 200, expires_on=dt.date(2027, 1, 31))
        reply = bot(PHONE).send("JF")
    assert reply.text == "您的积分：1,280 分，金卡会员。200 分将于 2027-01-31 到期。"
    assert reply.command == "points"


def test_points_read_with_the_sender_are_the_ledgers(
    bot: Any, make_member: Any, make_card: Any
) -> None:
    """POINTS reads its figures in the sender lookup itself; they are ``points_summary``'s."""
    member = make_member(PHONE, language="en")
    first = member_cards(member)[0]
    second = make_card("points", member=member)
    gone = make_card("points", member=member)
    with frozen(dt.datetime(2026, 12, 1, 10, 0, tzinfo=CST)):
        give_points(first, 30, expires_on=dt.date(2026, 11, 30))  # past: never "next"
        give_points(first, 100, expires_on=dt.date(2027, 6, 30))
        give_points(first, 40, expires_on=dt.date(2027, 3, 31))
        give_points(second, 5, expires_on=dt.date(2027, 3, 31))
        give_points(second, 10)
        give_points(gone, 999, expires_on=dt.date(2027, 1, 31))
        gone.state = "cancelled"
        reply = bot(PHONE).text("POINTS")
        balances, expiry = points_summary(member.id)
    assert (balances.points, expiry) == (185, (45, dt.date(2027, 3, 31)))
    assert reply == "Your points: 185. 45 points expire on 2027-03-31."


def test_points_in_english_and_traditional(bot: Any, make_member: Any, make_level: Any) -> None:
    member = make_member(PHONE, language="en")
    member.level = make_level("Gold", 3)
    give_points(member_cards(member)[0], 50)
    assert bot(PHONE).text("积分") == "Your points: 50 (Gold member)."
    member.language = "zh-Hant"
    member.level = None
    assert bot(PHONE).text("points") == "您的積分：50 分。"


def test_points_name_the_level_in_the_members_language(
    bot: Any, make_member: Any, make_level: Any
) -> None:
    """An English member read "Your points: 100 (普通会员)"."""
    member = make_member(PHONE, language="en")
    level = make_level("普通会员", 1)
    level.name_en, level.name_zh_hant = "Regular member", "普通會員"
    member.level = level
    give_points(member_cards(member)[0], 100)
    assert bot(PHONE).text("JF") == "Your points: 100 (Regular member)."
    member.language = "zh-Hant"
    assert bot(PHONE).text("積分") == "您的積分：100 分，普通會員。"
    member.language = "zh-Hans"
    assert bot(PHONE).text("积分") == "您的积分：100 分，普通会员。"
    level.name_en = None  # no English name: the one name
    member.language = "en"
    assert bot(PHONE).text("POINTS") == "Your points: 100 (普通会员)."


def test_a_level_named_member_is_not_doubled(bot: Any, make_member: Any, make_level: Any) -> None:
    member = make_member(PHONE)
    member.level = make_level("普通会员", 1)
    assert bot(PHONE).text("JF") == "您的积分：0 分，普通会员。"


def test_balance_with_stored_value_visits_and_period_card(
    bot: Any, make_member: Any, make_card: Any
) -> None:
    member = make_member(PHONE, language="zh-Hans")
    give_stored_value(member_cards(member)[0], 128050)
    count_card = make_card("count", member=member)
    give_visits(count_card, 8)
    period = make_card(
        "period",
        member=member,
        valid_from=dt.date(2026, 1, 1),
        valid_until=dt.date(2027, 6, 30),
    )
    with frozen(dt.datetime(2026, 12, 1, 10, 0, tzinfo=CST)):
        reply = bot(PHONE).send("余额")
    assert reply.text == (
        f"储值余额：¥1,280.50。剩余次数：8 次。尾号 {period.number[-4:]} 的卡有效期至 2027-06-30。"
    )


def test_balance_in_english_with_an_expired_period_card(
    bot: Any, make_member: Any, make_card: Any
) -> None:
    member = make_member(PHONE, language="en")
    card = make_card(
        "period", member=member, valid_from=dt.date(2025, 1, 1), valid_until=dt.date(2025, 12, 31)
    )
    with frozen(dt.datetime(2026, 12, 1, 10, 0, tzinfo=CST)):
        reply = bot(PHONE).send("BAL")
    assert reply.text == (
        f"Stored value: ¥0.00. Card ending {card.number[-4:]} expired on 2025-12-31."
    )


# --- LANG ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        ("LANG en", "en", "Done: we will write to you in English from now on."),
        ("语言 zh-Hant", "zh-Hant", "好的，今後我們將用繁體中文回覆您。"),
        ("語言 简体", "zh-Hans", "好的，今后我们将用简体中文给您回复。"),
        ("lang ZH-HANS", "zh-Hans", "好的，今后我们将用简体中文给您回复。"),
    ],
)
def test_lang_changes_the_members_language(
    bot: Any, make_member: Any, text: str, language: str, expected: str
) -> None:
    member = make_member(PHONE, language="en" if language != "en" else "zh-Hans")
    reply = bot(PHONE).send(text)
    assert (reply.text, reply.language) == (expected, language)
    assert member.language == language
    assert bot(PHONE).send("JF").language == language


def test_lang_with_a_bad_language_changes_nothing(bot: Any, make_member: Any) -> None:
    member = make_member(PHONE, language="en")
    assert bot(PHONE).text("LANG fr") == "Text LANG followed by English, 简体中文 or 繁體中文."
    assert member.language == "en"


def test_help_names_the_languages_and_lang_takes_names_and_codes(
    bot: Any, make_member: Any
) -> None:
    """The help showed raw codes ("语言 zh-Hans/zh-Hant/en"); members read language names."""
    member = make_member(PHONE, language="zh-Hans")
    assert "｜语言 简体中文/繁體中文/English｜" in bot(PHONE).text("帮助")
    assert "zh-Hans" not in bot(PHONE).text("帮助")
    assert bot(PHONE).text("语言 English") == "Done: we will write to you in English from now on."
    assert "LANG English/简体中文/繁體中文," in bot(PHONE).text("HELP")
    assert bot(PHONE).text("LANG 繁體中文") == "好的，今後我們將用繁體中文回覆您。"
    assert "｜語言 繁體中文/简体中文/English｜" in bot(PHONE).text("幫助")
    assert bot(PHONE).text("語言 zh-Hans") == "好的，今后我们将用简体中文给您回复。"
    assert member.language == "zh-Hans"


# --- BIND ------------------------------------------------------------------------------


class TestBind:
    @pytest.fixture
    def app_config(self) -> dict[str, Any]:
        return {
            "BOT_RAISE_ERRORS": True,
            "BOT_RATE_LIMIT": "1000/minute",
            "PIN_MAX_ATTEMPTS": 3,
            "PIN_LOCK_MINUTES": 15,
        }

    def _events(self, card: Any) -> list[str]:
        return list(
            db.session.scalars(select(CardEvent.action).where(CardEvent.card_id == card.id))
        )

    def test_bind_an_anonymous_gift_card_with_its_pin(
        self, bot: Any, make_member: Any, make_card: Any
    ) -> None:
        member = make_member(PHONE)
        gift = make_card("gift", pin="246810")
        give_stored_value(gift, 10000)
        phone = bot(PHONE)
        tail = gift.number[-4:]
        assert phone.text(f"BD {gift.number}") == (
            f"尾号 {tail} 的卡设有密码，请回复“绑定 卡号 密码”。"
        )
        assert gift.member_id is None
        assert (
            phone.text(f"绑定 {gift.number} 246810")
            == f"尾号 {tail} 的卡已成功绑定到您的会员账户。"
        )
        assert gift.member_id == member.id
        assert self._events(gift) == ["issue", "bind"]
        [bound] = [e for e in card_history(gift) if e.action == "bind"]
        assert (bound.from_state, bound.to_state, bound.actor, bound.reason) == (
            "active",
            "active",
            f"sms:member:{member.id}",
            f"bound to member {member.id} by text",
        )
        assert phone.text("YE") == "储值余额：¥100.00。"
        assert phone.text(f"BD {gift.number}") == f"尾号 {tail} 的卡已绑定在您名下。"

    def test_wrong_pins_until_the_card_locks(
        self, bot: Any, make_member: Any, make_card: Any
    ) -> None:
        make_member(PHONE, language="en")
        gift = make_card("gift", pin="246810")
        tail = gift.number[-4:]
        phone = bot(PHONE)
        moment = dt.datetime(2026, 12, 1, 10, 0, tzinfo=CST)
        with frozen(moment):
            assert phone.text(f"BIND {gift.number} 000000") == (
                f"Wrong PIN for the card ending {tail}. 2 attempts left before the card locks."
            )
            assert phone.text(f"BIND {gift.number} 111111").startswith(
                f"Wrong PIN for the card ending {tail}. 1 attempts left"
            )
            locked = (
                f"Too many wrong PINs: the card ending {tail} is locked until 10:15. "
                "Please try again later."
            )
            assert phone.text(f"BIND {gift.number} 222222") == locked
            # Even the right PIN is refused while the card is locked.
            assert phone.text(f"BIND {gift.number} 246810") == locked
        assert gift.member_id is None
        assert gift.pin_locked_until is not None
        assert self._events(gift) == ["issue"]

    @pytest.mark.parametrize("style", ["groups", "groups+pin", "dashes+pin"])
    def test_card_numbers_written_in_groups(
        self, bot: Any, make_member: Any, make_card: Any, style: str
    ) -> None:
        member = make_member(PHONE, language="en")
        pin = None if style == "groups" else "246810"
        card = make_card("gift", pin=pin)
        groups = [card.number[i : i + 4] for i in range(0, len(card.number), 4)]
        written = " ".join(groups) if style.startswith("groups") else "-".join(groups)
        reply = bot(PHONE).send(f"BIND {written} {pin or ''}")
        assert reply.text == f"Card ending {card.number[-4:]} is now bound to your membership."
        assert card.member_id == member.id

    def test_unknown_card_and_missing_number(self, bot: Any, make_member: Any) -> None:
        make_member(PHONE)
        phone = bot(PHONE)
        assert phone.text("BD 8800000000000000") == "找不到卡号 8800000000000000，请核对后重试。"
        assert phone.text("BD").startswith("请回复“绑定 卡号”，卡有密码的请在后面加上密码")

    def test_another_members_card_is_refused(
        self, bot: Any, make_member: Any, make_card: Any
    ) -> None:
        make_member(PHONE)
        other = make_member("+8613900139000")
        theirs = make_card("stored_value", member=other)
        reply = bot(PHONE).send(f"BD {theirs.number}")
        assert reply.text == (
            f"尾号 {theirs.number[-4:]} 的卡属于其他会员，无法绑定，请到门店柜台咨询。"
        )
        assert theirs.member_id == other.id
        # The other member's phone works as a card number, and is refused the same way.
        assert "属于其他会员" in bot(PHONE).text("BD 13900139000")

    def test_a_lost_card_cannot_be_bound(self, bot: Any, make_member: Any, make_card: Any) -> None:
        from app.cards.services import change_state

        make_member(PHONE)
        card = make_card("gift")
        change_state(card, "report-lost")
        assert bot(PHONE).text(f"BD {card.number}") == (
            f"尾号 {card.number[-4:]} 的卡已挂失，无法绑定，请到门店柜台咨询。"
        )
        assert card.member_id is None

    @pytest.mark.parametrize(
        ("language", "expected"),
        [
            (
                "zh-Hans",
                "尾号 {tail} 的卡内有余额或权益，须凭密码绑定。"
                "请到门店柜台设置密码，再回复“绑定 卡号 密码”。",
            ),
            (
                "en",
                "Card ending {tail} holds value, so it can only be bound with its PIN. Please "
                "ask at the counter to set a PIN, then text BIND, the card number and the PIN.",
            ),
        ],
    )
    def test_a_card_holding_value_without_a_pin_is_not_claimed_by_its_number(
        self, bot: Any, make_member: Any, make_card: Any, language: str, expected: str
    ) -> None:
        """Issue 9: anyone who learnt a gift card's number took it with "绑定 <number>"."""
        make_member(PHONE, language=language)
        gift = make_card("gift")
        give_stored_value(gift, 10000)
        period = make_card("period", period="month")
        for card in (gift, period):
            reply = bot(PHONE).text(f"BIND {card.number}")
            assert reply == expected.format(tail=card.number[-4:])
            assert card.member_id is None
            assert self._events(card) == ["issue"]

    def test_batch_issued_gift_cards_are_bound_only_with_their_pin(
        self, bot: Any, make_member: Any, runner: Any, tmp_path: Any
    ) -> None:
        import csv

        from app.cards.services import find_card

        member = make_member(PHONE)
        out = tmp_path / "gift.csv"
        issued = runner.invoke(
            args=[
                *("cards", "issue", "--type", "gift", "--count", "1"),
                *("--value-cents", "10000", "--out", str(out)),
            ]
        )
        assert issued.exit_code == 0, issued.output
        with out.open(newline="", encoding="utf-8") as fh:
            (row,) = list(csv.DictReader(fh))
        card = find_card(row["number"])
        tail = row["number"][-4:]
        phone = bot(PHONE)
        assert phone.text(f"绑定 {row['number']}") == (
            f"尾号 {tail} 的卡设有密码，请回复“绑定 卡号 密码”。"
        )
        wrong = "000000" if row["pin"] != "000000" else "111111"
        assert phone.text(f"绑定 {row['number']} {wrong}") == (
            f"尾号 {tail} 的卡密码错误，再错 2 次卡将被锁定。"
        )
        assert card.member_id is None
        assert phone.text(f"绑定 {row['number']} {row['pin']}") == (
            f"尾号 {tail} 的卡已成功绑定到您的会员账户。"
        )
        assert card.member_id == member.id

    def test_a_stranger_must_join_first(self, bot: Any, make_card: Any) -> None:
        card = make_card("gift")
        reply = bot(PHONE).send(f"BIND {card.number}")
        assert reply.command == "join_first"
        assert card.member_id is None


# --- MSG -------------------------------------------------------------------------------


def test_message_to_the_store(bot: Any, make_member: Any) -> None:
    from app.campaigns.models import StoreMessage

    member = make_member(PHONE)
    reply = bot(PHONE).send("留言 新品奶茶太甜了，能少糖吗？")
    assert reply.text == "谢谢！您的留言已转给南京路店，店员会尽快查看。"
    note = db.session.scalar(select(StoreMessage))
    assert (note.member_id, note.store.code, note.text, note.read_at) == (
        member.id,
        "SH01",
        "新品奶茶太甜了，能少糖吗？",
        None,
    )
    assert bot(PHONE).text("LY") == "请回复“留言”加您想说的话，例如：留言 新品奶茶很好喝。"
    assert db.session.scalar(select(func.count()).select_from(StoreMessage)) == 1


# --- ALERTS ----------------------------------------------------------------------------


def test_alerts_switch(bot: Any, make_member: Any) -> None:
    from app.members.services import alert_preferences

    member = make_member(PHONE)
    phone = bot(PHONE)
    assert phone.text("提醒 关交易") == "已为您关闭交易提醒。"
    assert alert_preferences(member) == {
        "transaction": False,
        "low_balance": True,
        "level": True,
        "points_expiring": True,
    }
    assert phone.text("提醒") == (
        "已开启：余额不足提醒、等级变动提醒、积分过期提醒。已关闭：交易提醒。"
        "回复“提醒 关”或“提醒 开”，可在后面加“交易”、“余额”、“等级”或“过期”。"
    )
    member.language = "en"
    assert phone.text("ALERTS OFF") == (
        "Switched off: transaction alerts, low-balance alerts, level alerts, "
        "points-expiry reminders."
    )
    assert phone.text("alerts on level") == "Switched on: level alerts."
    assert alert_preferences(member) == {
        "transaction": False,
        "low_balance": False,
        "level": True,
        "points_expiring": False,
    }
    assert phone.text("ALERTS MAYBE").startswith("Text ALERTS OFF or ALERTS ON")
