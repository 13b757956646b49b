"""Every SMS command works on WeChat for a bound member, in the member's language, with the
same answer the member gets by SMS."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from app.bot.engine import handle_message
from app.bot.message import Message
from app.db import db
from app.members.wechat import bind_openid
from tests.bot.test_commands import KEYWORDS
from tests.wechat_member.conftest import OPENID, PHONE


def _by_sms(text: str) -> Any:
    reply = handle_message(Message("sms", PHONE, text, None, dt.datetime.now(dt.UTC)))
    db.session.flush()
    return reply


@pytest.mark.parametrize("language", ["zh-Hans", "zh-Hant", "en"])
def test_a_bound_member_gets_the_sms_answers_on_wechat(
    wechat: Any, make_member: Any, language: str
) -> None:
    member = make_member(PHONE, language=language)
    bind_openid(OPENID, member, via="code")
    follower = wechat(OPENID)
    texts = [
        "积分",
        "JF",
        "積分",
        "POINTS",
        "余额",
        "BAL",
        "提醒",
        "ALERTS OFF LEVEL",
        "ALERTS ON LEVEL",
        "投票 A",
        "抽奖",
        "注册",
        "绑定",
        "绑定 8800000000000000",
        "hello there",
        "语言",
    ]
    for text in texts:
        sms = _by_sms(text)
        on_wechat = follower.send(text)
        assert (on_wechat.reply, on_wechat.language, on_wechat.command) == (
            sms.text,
            language,
            sms.command,
        ), text
        assert on_wechat.reply, text
    # HELP says the same and adds what WeChat has.
    help_sms, help_wechat = _by_sms("帮助").text, follower.text("帮助")
    assert help_wechat.startswith(help_sms) and len(help_wechat) > len(help_sms)
    # LANG changes the language on both channels: it is the member's.
    assert follower.send("LANG English").language == "en"
    assert _by_sms("JF").language == "en"


def test_every_keyword_reaches_its_command_on_wechat(wechat: Any, make_member: Any) -> None:
    member = make_member(PHONE, language="en")
    bind_openid(OPENID, member, via="code")
    follower = wechat(OPENID)
    for name, words in {**KEYWORDS, "ecard": ["电子卡", "電子卡", "ECARD", "e-card"]}.items():
        for word in words:
            result = follower.send(word)
            assert (result.command, result.language) == (name, "en"), word
            assert result.reply and not result.silent, word


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        (
            "积分",
            "zh-Hans",
            "本微信尚未绑定会员账户。请发送“绑定”加手机号进行绑定（例如：绑定 13800138000），"
            "或发送“注册”加手机号成为会员。",
        ),
        (
            "餘額",
            "zh-Hant",
            "本微信尚未綁定會員賬戶。請發送「綁定」加手機號進行綁定（例如：綁定 13800138000），"
            "或發送「註冊」加手機號成為會員。",
        ),
        (
            "ECARD",
            "en",
            "This WeChat is not bound to a membership yet. Send BIND followed by your mobile "
            "number (for example BIND 13800138000) to bind it, or JOIN followed by your mobile "
            "number to become a member.",
        ),
        (
            "hello there",
            "en",
            "Sorry, we did not understand that. Send BIND followed by your mobile number to "
            "bind your membership, or HELP for the commands.",
        ),
    ],
)
def test_an_unbound_follower_is_told_how_to_bind(
    wechat: Any, make_member: Any, text: str, language: str, expected: str
) -> None:
    make_member(PHONE)  # a member by SMS, but this openid is not theirs
    result = wechat(OPENID).send(text)
    assert (result.reply, result.language) == (expected, language)
