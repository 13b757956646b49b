"""The filter chain: opt-out gate, rate limit, input hygiene, handler errors."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from sqlalchemy import func, select

from app.campaigns.models import StoreMessage
from app.db import db
from app.members.models import Member
from app.optout.models import OptOut, OptOutEvent
from app.optout.services import is_opted_out

PHONE = "+8613800138000"


def count(model: Any) -> int:
    return db.session.scalar(select(func.count()).select_from(model)) or 0


# --- opt-out ---------------------------------------------------------------------------


def test_stop_then_silence_then_start(bot: Any, make_member: Any) -> None:
    member = make_member(PHONE, language="zh-Hans")
    phone = bot(PHONE)
    stop = phone.send("STOP")
    assert (stop.text, stop.command) == (
        "您已退订，将不再收到我们的短信。回复“订阅”可重新订阅。",
        "opt_out",
    )
    assert member.sms_opt_out is True
    assert is_opted_out("sms", PHONE)
    for text in ("JF", "帮助", "STOP", "TD", "LY 你好", "hello", "JF 😀"):
        reply = phone.send(text)
        assert (reply.text, reply.silent) == ("", True), text
    assert count(StoreMessage) == 0
    assert count(OptOutEvent) == 1  # the repeated STOP/TD changed nothing
    start = phone.send("订阅")
    assert start.text == "欢迎回来！您已重新订阅。回复“帮助”查看指令，回复“TD”退订。"
    assert member.sms_opt_out is False
    assert not is_opted_out("sms", PHONE)
    assert phone.send("JF").command == "points"
    assert [
        e.opted_out for e in db.session.scalars(select(OptOutEvent).order_by(OptOutEvent.id))
    ] == [
        True,
        False,
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("TD", "您已退订，将不再收到我们的短信。回复“订阅”可重新订阅。"),
        ("t", "您已退订，将不再收到我们的短信。回复“订阅”可重新订阅。"),
        ("退訂", "您已退訂，將不再收到我們的簡訊。回覆「訂閱」可重新訂閱。"),
        (
            "Unsubscribe",
            "You have unsubscribed and will get no more messages from us. "
            "Text START to subscribe again.",
        ),
        (
            "  stop. ",
            "You have unsubscribed and will get no more messages from us. "
            "Text START to subscribe again.",
        ),
        (
            "ＱＵＩＴ",
            "You have unsubscribed and will get no more messages from us. "
            "Text START to subscribe again.",
        ),
    ],
)
def test_a_stranger_can_opt_out(bot: Any, text: str, expected: str) -> None:
    assert bot(PHONE).text(text) == expected
    row = db.session.scalar(select(OptOut))
    assert (row.channel, row.address, row.opted_out) == ("sms", PHONE, True)
    assert count(Member) == 0


@pytest.mark.parametrize(
    ("text", "expected", "command"),
    [
        (
            "stop sending me ads please",
            "To stop all messages from us, text STOP on its own.",
            "opt_out_hint",
        ),
        ("Stop. Thank you", "To stop all messages from us, text STOP on its own.", "opt_out_hint"),
        ("CANCEL my order", "To stop all messages from us, text STOP on its own.", "opt_out_hint"),
        (
            "T 退订",
            "Sorry, we did not understand that. Text HELP for the list of commands.",
            "unknown",
        ),
        (
            "please unsubscribe me",
            "Sorry, we did not understand that. Text HELP for the list of commands.",
            "unknown",
        ),
    ],
)
def test_a_sentence_is_not_an_opt_out(
    bot: Any, make_member: Any, text: str, expected: str, command: str
) -> None:
    member = make_member(PHONE, language="en")
    reply = bot(PHONE).send(text)
    assert (reply.text, reply.command) == (expected, command)
    assert member.sms_opt_out is False
    assert count(OptOut) == 0


def test_a_chinese_sentence_starting_with_td_gets_the_hint(bot: Any) -> None:
    reply = bot(PHONE).send("退订谢谢")
    assert (reply.text, reply.command) == ("如需退订全部短信，请单独回复“TD”。", "opt_out_hint")
    assert count(OptOut) == 0


def test_start_when_subscribed_confirms_without_change(bot: Any) -> None:
    reply = bot(PHONE).send("START")
    assert reply.text == "You are subscribed. Text HELP for the commands, STOP to opt out."
    assert count(OptOutEvent) == 0


def test_the_simulator_opts_out_the_phone(bot: Any) -> None:
    bot(PHONE, channel="simulator").send("TD")
    assert is_opted_out("sms", PHONE)
    assert bot(PHONE).send("JF").silent


# --- rate limit ------------------------------------------------------------------------


class TestRateLimit:
    @pytest.fixture
    def app_config(self) -> dict[str, Any]:
        return {"BOT_RAISE_ERRORS": True, "BOT_RATE_LIMIT": "3/minute"}

    def test_polite_once_then_silent(self, bot: Any, make_member: Any) -> None:
        make_member(PHONE, language="zh-Hans")
        phone = bot(PHONE)
        assert [phone.send("JF").command for _ in range(3)] == ["points"] * 3
        warned = phone.send("JF")
        assert (warned.text, warned.command) == (
            "您发送得太频繁了，请稍等一分钟再试。",
            "rate_limited",
        )
        for _ in range(3):
            reply = phone.send("LY 你好")
            assert (reply.text, reply.silent, reply.command) == ("", True, "rate_limited")
        assert count(StoreMessage) == 0
        # Another phone is not affected.
        assert bot("+8613900139000").send("JF").command == "join_first"

    def test_stop_works_even_when_rate_limited(self, bot: Any, make_member: Any) -> None:
        member = make_member(PHONE, language="en")
        phone = bot(PHONE)
        for _ in range(5):
            phone.send("hello")
        assert phone.send("STOP").command == "opt_out"
        assert member.sms_opt_out is True


# --- input hygiene ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("LY " + "长" * 1598, "您的短信太长了（最多 1,600 字），请精简后再发送。"),
        ("LY 你好\x00", "您的短信含有无法识别的字符，请只发送文字。"),
        ("LY 你好\x1b[31m", "您的短信含有无法识别的字符，请只发送文字。"),
        ("LY 你好😀", "请去掉表情符号后重新发送。"),
        ("LY ОК 好", "您的短信混用了不同文字的字母，请用中文或英文字母书写。"),
    ],
)
def test_bad_input_gets_a_clear_reply_and_changes_nothing(
    bot: Any, make_member: Any, text: str, expected: str
) -> None:
    make_member(PHONE, language="zh-Hans")
    reply = bot(PHONE).send(text)
    assert (reply.text, reply.command) == (expected, "bad_input")
    assert count(StoreMessage) == 0


def test_exactly_1600_characters_is_accepted(bot: Any, make_member: Any) -> None:
    make_member(PHONE)
    text = "LY " + "好" * 1597
    assert len(text) == 1600
    assert bot(PHONE).send(text).command == "message"
    assert len(db.session.scalar(select(StoreMessage.text))) == 1597


def test_a_stranger_with_emoji_gets_the_reply_in_english(bot: Any) -> None:
    assert bot(PHONE).text("hello 👋") == "Please send your message again without emoji."


# --- handler errors --------------------------------------------------------------------


def _failing_leave_message(member: Any, text: str, *, channel: str) -> Any:
    db.session.add(
        StoreMessage(member_id=member.id, store_id=member.home_store_id, text=text, channel=channel)
    )
    db.session.flush()
    raise RuntimeError("disk on fire")


def test_a_handler_error_is_logged_rolled_back_and_answered_politely(
    app: Any,
    bot: Any,
    make_member: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    import app.campaigns.services as services

    make_member(PHONE, language="zh-Hans")
    monkeypatch.setattr(services, "leave_message", _failing_leave_message)
    monkeypatch.setitem(app.config, "BOT_RAISE_ERRORS", False)
    with caplog.at_level(logging.ERROR, logger="app.bot.engine"):
        reply = bot(PHONE).send("LY 你好")
    assert (reply.text, reply.command) == ("抱歉，系统出了点问题，请稍后再试。", "message")
    assert count(StoreMessage) == 0
    record = next(r for r in caplog.records if r.name == "app.bot.engine")
    assert "+86138****8000" in record.getMessage()
    assert PHONE not in caplog.text
    assert record.exc_info is not None and "disk on fire" in str(record.exc_info[1])
    # The unit of work is still usable after the failure.
    assert bot(PHONE).send("JF").command == "points"


def test_tests_see_the_real_error(bot: Any, make_member: Any, monkeypatch: Any) -> None:
    import app.campaigns.services as services

    make_member(PHONE)
    monkeypatch.setattr(services, "leave_message", _failing_leave_message)
    with pytest.raises(RuntimeError, match="disk on fire"):
        bot(PHONE).send("LY 你好")


def test_wechat_openids_are_strangers_until_bound(bot: Any) -> None:
    phone = bot("oWx_AbCdEf123456", channel="wechat")
    assert phone.text("JOIN").startswith("To join, send JOIN followed by your mobile number")
    assert phone.send("POINTS").command == "bind_first"
    assert count(Member) == 0
    assert phone.send("退订").command == "opt_out"
    assert is_opted_out("wechat", "oWx_AbCdEf123456")
    assert not is_opted_out("sms", "oWx_AbCdEf123456")


def test_a_read_only_command_error_is_answered_politely(
    app: Any, bot: Any, make_member: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import app.bot.commands.balances as points_command

    def broken(value: int) -> Any:
        raise ZeroDivisionError("bad sum")

    make_member(PHONE, language="en")
    # The ledger read rides on the sender lookup; the handler fails while writing the reply.
    monkeypatch.setattr(points_command, "number", broken)
    monkeypatch.setitem(app.config, "BOT_RAISE_ERRORS", False)
    reply = bot(PHONE).send("JF")
    assert (reply.text, reply.command) == (
        "Sorry, something went wrong. Please try again later.",
        "points",
    )
