"""Where alerts go for a member bound on WeChat, and how the member chooses (ALERTS WECHAT)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import select

from app.bot.message import Message
from app.db import db
from app.ledger.balances import Balances
from app.members.wechat import bind_openid, unbind_openid
from app.messaging.inbound import receive
from app.messaging.models import OutboxMessage
from app.signals import transaction_posted

OPENID = "o6_bmjrPTlm6_2sgVt7hMZOPfL2M"
_ids = iter(range(5000, 100000))


def _checkout(member: Any) -> int:
    """What the ledger sends after a checkout; returns the transaction id."""
    from app.cards.services import member_cards

    txn_id = next(_ids)
    transaction_posted.send(
        SimpleNamespace(
            id=txn_id,
            kind="checkout",
            created_at=dt.datetime(2026, 11, 23, 2, 3, tzinfo=dt.UTC),
            details={"pay_with": "stored_value"},
        ),
        kind="checkout",
        card=member_cards(member)[0],
        member=member,
        amount_fen=1250,
        points_delta=12,
        balances=Balances(points=345, stored_value_fen=8750),
        store=None,
    )
    return txn_id


def _rows() -> list[tuple[str, str, str]]:
    return [
        (row.channel, row.address, row.dedupe_key)
        for row in db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
    ]


@pytest.fixture
def member(make_member: Callable[..., Any]) -> Any:
    return make_member("+8613800138000")


def _text(member: Any, text: str, channel: str = "sms") -> str:
    sender = member.phone if channel == "sms" else OPENID
    result = receive(
        Message(channel, sender, text, provider_id=None, received_at=dt.datetime.now(dt.UTC))
    )
    return result.reply


def test_an_unbound_member_gets_alerts_by_sms(member: Any) -> None:
    txn = _checkout(member)
    assert _rows() == [("sms", member.phone, f"alert:transaction:{txn}")]


def test_a_bound_member_gets_alerts_on_wechat_alone_by_default(member: Any) -> None:
    bind_openid(OPENID, member, via="code")
    txn = _checkout(member)
    assert _rows() == [("wechat", OPENID, f"alert:transaction:{txn}:wechat")]
    body = db.session.scalars(select(OutboxMessage.body)).one()
    assert "12.50" in body and "87.50" in body


def test_the_member_chooses_sms_or_both(member: Any) -> None:
    bind_openid(OPENID, member, via="code")
    assert _text(member, "提醒 短信") == "提醒将以短信发送。"
    first = _checkout(member)
    assert _text(member, "提醒 两者", channel="wechat") == "提醒将同时发到微信和短信。"
    second = _checkout(member)
    assert _rows() == [
        ("sms", member.phone, f"alert:transaction:{first}"),
        ("wechat", OPENID, f"alert:transaction:{second}:wechat"),
        ("sms", member.phone, f"alert:transaction:{second}"),
    ]
    assert _text(member, "提醒 微信") == "提醒将发到微信。"
    assert member.alert_channel == "wechat"


def test_the_alerts_reply_says_where_they_go_only_to_bound_members(member: Any) -> None:
    assert "微信" not in _text(member, "提醒")
    bind_openid(OPENID, member, via="code")
    assert "提醒将发到微信。回复“提醒 微信”、“提醒 短信”或“提醒 两者”可更改。" in _text(
        member, "提醒"
    )


def test_choosing_wechat_before_binding_is_refused_and_changes_nothing(member: Any) -> None:
    member.language = "en"
    reply = _text(member, "ALERTS WECHAT")
    assert reply.startswith("Your membership is not bound to WeChat yet.")
    assert member.alert_channel is None
    txn = _checkout(member)
    assert _rows() == [("sms", member.phone, f"alert:transaction:{txn}")]


def test_a_wechat_choice_falls_back_to_sms_once_unbound(member: Any) -> None:
    bind_openid(OPENID, member, via="code")
    assert _text(member, "提醒 微信") == "提醒将发到微信。"
    assert unbind_openid(OPENID)
    txn = _checkout(member)
    assert _rows() == [("sms", member.phone, f"alert:transaction:{txn}")]


def test_an_unbound_members_alert_reads_no_binding(app: Any, member: Any) -> None:
    """The ledger's hot path: a member never bound costs no WeChat lookup."""
    from sqlalchemy import event

    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    db.session.flush()
    event.listen(db.engine, "before_cursor_execute", record)
    try:
        _checkout(member)
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    assert seen and not [s for s in seen if "wechat_binding" in s]
    assert member.alert_channel is None


def test_binding_chooses_wechat_and_unbinding_clears_it_but_keeps_sms(
    make_member: Callable[..., Any],
) -> None:
    member = make_member("+8613800138001")
    bind_openid(OPENID, member, via="code")
    assert member.alert_channel == "wechat"
    assert unbind_openid(OPENID)
    db.session.refresh(member)
    assert member.alert_channel is None
    bind_openid(OPENID, member, via="code")
    assert _text(member, "提醒 短信") == "提醒将以短信发送。"
    assert unbind_openid(OPENID) and not unbind_openid(OPENID)
    db.session.refresh(member)
    assert member.alert_channel == "sms"
