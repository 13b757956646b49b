"""Every bot command through WeChat text messages, signed as WeChat signs them: a member
bound to an openid, and a stranger. (The engine's full matrix is tested in tests/bot; here:
that the WeChat channel carries it, in each mode, and retries do nothing twice.)"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.campaigns.models import StoreMessage
from app.cards.services import member_cards
from app.db import db
from app.ledger.journal import credit_points
from app.members.models import Member
from app.members.wechat import bind_openid
from app.messaging.models import InboundMessage
from tests.wechat.support import WeChatServer, next_msg_id, text_xml

OPENID = "oMember0000000000000000001"
STRANGER = "oStranger000000000000000001"


@pytest.fixture
def member(make_member: Callable[..., Any], make_store: Callable[..., Any]) -> Member:
    """林小红, bound to OPENID, with 1,280 points (200 of them expiring)."""
    make_store("SH01", "静安店")
    member = make_member("+8613700000077", name="林小红", home_store="SH01")
    bind_openid(OPENID, member, via="code")
    card = member_cards(member)[0]
    credit_points(card, 1080, kind="gift", key="t:points", expires_on=None)
    credit_points(
        card, 200, kind="gift", key="t:expiring", expires_on=dt.date.today() + dt.timedelta(days=90)
    )
    db.session.flush()
    return member


@pytest.fixture
def plain(client: FlaskClient) -> WeChatServer:
    return WeChatServer(client, "plain")


def _inbound_rows() -> int:
    return db.session.scalar(select(func.count()).select_from(InboundMessage)) or 0


def test_points_balance_and_help_in_each_mode(wechat: WeChatServer, member: Member) -> None:
    points = wechat.text(OPENID, "积分")
    assert points.status == 200
    assert points.content_type == "application/xml; charset=utf-8"
    assert points.content.startswith("您的积分：1,280")
    # The reply goes back to the follower, from the official account.
    assert points.fields["ToUserName"] == OPENID
    assert points.fields["FromUserName"] == "gh_laoyou000001"
    assert points.fields["MsgType"] == "text"
    assert abs(int(points.fields["CreateTime"]) - dt.datetime.now().timestamp()) < 60
    assert "余额" in wechat.text(OPENID, "余额").content
    assert "积分" in wechat.text(OPENID, "帮助").content


def test_every_command_for_a_bound_member(
    app: Flask, plain: WeChatServer, member: Member, make_card: Callable[..., Any]
) -> None:
    assert plain.text(OPENID, "JF").content.startswith("您的积分：1,280")
    assert plain.text(OPENID, "YE").content
    # HELP answers in the member's language, whatever the keyword's.
    assert "积分(JF)" in plain.text(OPENID, "HELP").content
    assert "已经是会员" in plain.text(OPENID, "注册").content
    # A physical card, bound to the member by its number.
    card = make_card("stored_value")
    db.session.flush()
    bound = plain.text(OPENID, f"绑定 {card.number}").content
    assert card.number[-4:] in bound
    assert plain.text(OPENID, "投票 1").content  # no vote open: says so
    assert plain.text(OPENID, "抽奖").content  # no draw open: says so
    note = plain.text(OPENID, "留言 新茶很好喝").content
    assert "静安店" in note
    assert db.session.scalar(select(StoreMessage.text)) == "新茶很好喝"
    assert plain.text(OPENID, "提醒 关 交易").content
    english = plain.text(OPENID, "LANG English").content
    db.session.refresh(member)
    assert english.startswith("Done") and member.language == "en"
    assert plain.text(OPENID, "积分").content.startswith("Your points: 1,280")
    # Opting out of WeChat messages: one confirmation, then silence until opted in again.
    assert plain.text(OPENID, "TD").content
    silent = plain.text(OPENID, "积分")
    assert silent.body == "success" and silent.content_type.startswith("text/plain")
    assert plain.text(OPENID, "START").content
    assert plain.text(OPENID, "积分").content.startswith("Your points")


def test_a_stranger_gets_help_and_no_member_answer(plain: WeChatServer, member: Member) -> None:
    # On WeChat a stranger's HELP is how to bind this openid or join.
    assert "绑定" in plain.text(STRANGER, "帮助").content
    points = plain.text(STRANGER, "积分").content
    assert points and "1,280" not in points  # not the bound member's points
    assert plain.text(STRANGER, "hello there").content  # not understood: a pointer to HELP
    # Joining from WeChat makes no member of an openid (it is no phone number).
    members = db.session.scalar(select(func.count()).select_from(Member))
    assert plain.text(STRANGER, "注册 张三").content
    assert db.session.scalar(select(func.count()).select_from(Member)) == members


def test_a_retry_with_the_same_msgid_gets_the_same_reply_and_does_nothing_twice(
    wechat: WeChatServer, member: Member
) -> None:
    body = text_xml(OPENID, "留言 第一次", next_msg_id())
    first = wechat.post(body)
    second = wechat.post(body)
    third = wechat.post(body)
    assert first.content and first.content == second.content == third.content
    assert db.session.scalar(select(func.count()).select_from(StoreMessage)) == 1
    assert _inbound_rows() == 1
    # A new MsgId is a new message.
    wechat.text(OPENID, "留言 第二次")
    assert db.session.scalar(select(func.count()).select_from(StoreMessage)) == 2


def test_text_with_cdata_terminators_arrives_whole(plain: WeChatServer, member: Member) -> None:
    note = plain.text(OPENID, "留言 a]]>b<c>&d").content
    assert "静安店" in note
    assert db.session.scalar(select(StoreMessage.text)) == "a]]>b<c>&d"
