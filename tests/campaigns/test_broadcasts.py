"""Broadcasts: a segment's snapshot, per-member texts, quiet hours, opt-outs, cancel, priority."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from app import clock
from app.campaigns.broadcasts import (
    broadcast_progress,
    cancel_broadcast,
    create_broadcast,
    get_broadcast,
    preview_texts,
    queue_broadcast,
    recipients_page,
)
from app.campaigns.jobs import broadcasts_due
from app.campaigns.models import Broadcast
from app.campaigns.segments import save_segment
from app.cards.services import member_cards
from app.db import db
from app.errors import InvalidRequest, NotFound
from app.ledger.operations import checkout
from app.members.models import WechatBinding
from app.messaging.dispatcher import Dispatcher
from app.messaging.models import BULK_PRIORITY, OutboxMessage
from app.messaging.services import enqueue
from app.optout.services import opt_out

#: 10:00 in Shanghai (outside quiet hours) and 22:30 (inside 21:00-09:00).
MORNING = dt.datetime(2026, 11, 23, 2, 0, tzinfo=dt.UTC)
NIGHT = dt.datetime(2026, 11, 23, 14, 30, tzinfo=dt.UTC)
#: When the night's quiet hours end: 09:00 in Shanghai the next day.
QUIET_END = dt.datetime(2026, 11, 24, 1, 0, tzinfo=dt.UTC)

TEXTS = {
    "zh-Hans": "{name}您好，您有{points}积分（{level}，{store}）",
    "en": "Hi {name}, you have {points} points ({level}, {store})",
}


@pytest.fixture
def members(
    app: Flask,
    make_member: Callable[..., Any],
    make_store: Callable[..., Any],
    make_level: Callable[..., Any],
) -> dict[str, Any]:
    """Four members with the tag "vip": Ann (en, 120 points), 李雷 (zh-Hans), Bo (opted
    out of SMS, bound on WeChat), Cy (zh-Hant, no text of its own). And Dee, not a vip."""
    store = make_store("SH01", name="静安店")
    make_level("Silver", 1, upgrade_threshold=0)
    ann = make_member("+8613900000021", name="Ann", language="en", tags=["vip"])
    lei = make_member("+8613900000022", name="李雷", tags=["vip"])
    bo = make_member("+8613900000023", name="Bo", tags=["vip"])
    cy = make_member("+8613900000024", language="zh-Hant", tags=["vip"])
    dee = make_member("+8613900000025", name="Dee")
    checkout(member_cards(ann)[0], store, 12000, "cash", key="bc-ann", actor="test")
    opt_out("sms", bo.phone, source="test")
    db.session.add(WechatBinding(openid="o-bo", member_id=bo.id, via="scene"))
    db.session.flush()
    return {"ann": ann, "lei": lei, "bo": bo, "cy": cy, "dee": dee}


@pytest.fixture
def vip(members: dict[str, Any]) -> int:
    segment = save_segment("VIP", {"field": "tag", "op": "has", "value": "vip"}, created_by="amy")
    return segment.id


def _make(segment_id: int | None, channels: str = "sms", **kw: Any) -> int:
    broadcast = create_broadcast(
        title=kw.pop("title", "Winter sale"),
        segment_id=segment_id,
        channels=channels,
        texts=kw.pop("texts", TEXTS),
        send_at=kw.pop("send_at", None),
        created_by="amy",
    )
    return broadcast.id


def _outbox(broadcast_id: int) -> list[OutboxMessage]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.broadcast_id == broadcast_id)
            .order_by(OutboxMessage.member_id)
        )
    )


def test_a_broadcast_reaches_its_segment_in_each_members_language(
    members: dict[str, Any], vip: int
) -> None:
    with clock.frozen(MORNING):
        broadcast_id = _make(vip)
        result = queue_broadcast(broadcast_id)
    assert result.as_dict() == {"targeted": 3, "skipped": 1, "queued": 3}
    rows = _outbox(broadcast_id)
    assert [(r.address, r.language, r.body) for r in rows] == [
        ("+8613900000021", "en", "Hi Ann, you have 120 points (Silver, 静安店)"),
        ("+8613900000022", "zh-Hans", "李雷您好，您有0积分（Silver，静安店）"),
        # No text in zh-Hant: the Simplified one; no name: the word for "member".
        ("+8613900000024", "zh-Hans", "会员您好，您有0积分（Silver，静安店）"),
    ]
    assert {(r.kind, r.status, r.priority, r.next_attempt_at) for r in rows} == {
        ("marketing", "queued", BULK_PRIORITY, MORNING)
    }
    broadcast = get_broadcast(broadcast_id)
    assert (broadcast.status, broadcast.targeted, broadcast.skipped, broadcast.queued) == (
        "queued",
        3,
        1,
        3,
    )
    # The snapshot keeps who was skipped and why.
    assert recipients_page(broadcast_id, skipped_only=True) == [
        (members["bo"].id, "sms", "opted_out")
    ]
    progress = broadcast_progress(broadcast)
    assert (progress.targeted, progress.skipped, progress.queued) == (3, {"opted_out": 1}, 3)
    assert progress.messages["queued"] == 3


def test_queued_twice_it_is_sent_once(members: dict[str, Any], vip: int) -> None:
    broadcast_id = _make(vip)
    queue_broadcast(broadcast_id)
    assert queue_broadcast(broadcast_id).as_dict() == {"targeted": 0, "skipped": 0, "queued": 0}
    assert len(_outbox(broadcast_id)) == 3


def test_wechat_or_sms_takes_wechat_when_bound(members: dict[str, Any], vip: int) -> None:
    broadcast_id = _make(vip, channels="wechat_or_sms")
    assert queue_broadcast(broadcast_id).as_dict() == {"targeted": 4, "skipped": 0, "queued": 4}
    assert [(r.channel, r.address) for r in _outbox(broadcast_id)][2] == ("wechat", "o-bo")


def test_wechat_only_skips_members_not_bound(members: dict[str, Any], vip: int) -> None:
    broadcast_id = _make(vip, channels="wechat")
    assert queue_broadcast(broadcast_id).as_dict() == {"targeted": 1, "skipped": 3, "queued": 1}
    assert broadcast_progress(get_broadcast(broadcast_id)).skipped == {"no_wechat": 3}


def test_queued_in_quiet_hours_it_waits_for_their_end(members: dict[str, Any], vip: int) -> None:
    with clock.frozen(NIGHT):
        broadcast_id = _make(vip)
        queue_broadcast(broadcast_id)
    assert {r.next_attempt_at for r in _outbox(broadcast_id)} == {QUIET_END}


def test_the_dispatcher_sends_alerts_before_broadcast_traffic(
    app: Flask, members: dict[str, Any], vip: int
) -> None:
    with clock.frozen(MORNING):
        broadcast_id = _make(vip)
        queue_broadcast(broadcast_id)
        alert = enqueue(address="+8613900000025", body="Card *0025: spent 1.00", kind="alert")
        db.session.flush()
        dispatcher = Dispatcher(app, sleep=lambda s: None)
        first = dispatcher.run_once(batch=1)
        db.session.expire_all()
        assert first.sent == 1
        assert db.session.get(OutboxMessage, alert).status == "sent"  # type: ignore[union-attr]
        assert {r.status for r in _outbox(broadcast_id)} == {"queued"}
        dispatcher.run_once(batch=10)
    rows = _outbox(broadcast_id)
    signature = app.config["SMS_SIGNATURE"]
    assert rows[0].sent_body == (
        f"【{signature}】Hi Ann, you have 120 points (Silver, 静安店) Reply STOP to opt out"
    )
    assert rows[1].sent_body.endswith("回复TD退订")  # type: ignore[union-attr]
    assert broadcast_progress(get_broadcast(broadcast_id)).messages["sent"] == 3


def test_an_opt_out_after_queueing_is_honoured_at_send_time(
    app: Flask, members: dict[str, Any], vip: int
) -> None:
    with clock.frozen(MORNING):
        broadcast_id = _make(vip)
        queue_broadcast(broadcast_id)
        opt_out("sms", members["lei"].phone, source="sms:TD")
        Dispatcher(app, sleep=lambda s: None).run_once(batch=10)
    counts = broadcast_progress(get_broadcast(broadcast_id)).messages
    assert (counts["sent"], counts["suppressed"]) == (2, 1)


def test_cancelled_while_sending_what_has_not_left_stays_unsent(
    app: Flask, members: dict[str, Any], vip: int
) -> None:
    with clock.frozen(MORNING):
        broadcast_id = _make(vip)
        queue_broadcast(broadcast_id)
        Dispatcher(app, sleep=lambda s: None).run_once(batch=1)
        assert cancel_broadcast(broadcast_id) == 2
        assert Dispatcher(app, sleep=lambda s: None).run_once(batch=10).claimed == 0
    counts = broadcast_progress(get_broadcast(broadcast_id)).messages
    assert (counts["sent"], counts["suppressed"], counts["queued"]) == (1, 2, 0)
    assert get_broadcast(broadcast_id).status == "cancelled"
    assert cancel_broadcast(broadcast_id) == 0  # a second cancel changes nothing


def test_cancelled_before_its_time_it_is_never_queued(members: dict[str, Any], vip: int) -> None:
    with clock.frozen(MORNING):
        broadcast_id = _make(vip, send_at=MORNING + dt.timedelta(hours=2))
        cancel_broadcast(broadcast_id)
    with clock.frozen(MORNING + dt.timedelta(hours=3)):
        assert broadcasts_due(MORNING.date(), "broadcasts_due@x")["queued"] == 0
    assert _outbox(broadcast_id) == []


def test_the_job_sends_scheduled_broadcasts_when_their_time_comes(
    members: dict[str, Any], vip: int
) -> None:
    with clock.frozen(MORNING):
        later = _make(vip, send_at=MORNING + dt.timedelta(hours=1))
        everyone = _make(None)
        assert broadcasts_due(MORNING.date(), "k1") == {
            "broadcasts": 1,
            "targeted": 4,
            "skipped": 1,
            "queued": 4,
        }
    assert _outbox(later) == []
    with clock.frozen(MORNING + dt.timedelta(hours=1)):
        assert broadcasts_due(MORNING.date(), "k2")["queued"] == 3
        assert broadcasts_due(MORNING.date(), "k2-again")["queued"] == 0
    assert len(_outbox(later)) == 3 and len(_outbox(everyone)) == 4


def test_preview_per_language() -> None:
    shown = preview_texts(TEXTS, {"name": "Ann", "points": 5, "level": "Gold", "store": "X"})
    assert [(p.language, p.text) for p in shown] == [
        ("zh-Hans", "Ann您好，您有5积分（Gold，X）"),
        ("en", "Hi Ann, you have 5 points (Gold, X)"),
    ]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"texts": {"en": "Hi {nmae}"}}, "texts.en"),
        ({"texts": {"en": "Hi {name!r}"}}, "texts.en"),
        ({"texts": {"en": "Hi {name.__class__}"}}, "texts.en"),
        ({"texts": {"en": "Hi {points:>99999}"}}, "texts.en"),
        ({"texts": {"en": "50% off {"}}, "texts.en"),
        ({"texts": {"en": "x" * 501}}, "texts.en"),
        ({"texts": {"en": "a\x00b"}}, "texts.en"),
        ({"texts": {"fr": "Bonjour"}}, "texts"),
        ({"texts": {"en": "  "}}, "texts"),
        ({"texts": "hello"}, "texts"),
        ({"title": ""}, "title"),
        ({"channels": "fax"}, "channels"),
        ({"send_at": MORNING - dt.timedelta(hours=1)}, "send_at"),
        ({"send_at": MORNING + dt.timedelta(days=400)}, "send_at"),
        ({"send_at": dt.datetime(2026, 11, 23, 12, 0)}, "send_at"),
    ],
)
def test_a_bad_broadcast_is_refused_and_nothing_is_kept(
    members: dict[str, Any], vip: int, changes: dict[str, Any], field: str
) -> None:
    args = {"title": "Sale", "channels": "sms", "texts": TEXTS, "send_at": None, **changes}
    with clock.frozen(MORNING), pytest.raises(InvalidRequest) as refused:
        create_broadcast(segment_id=vip, created_by="amy", **args)
    assert refused.value.details == {"field": field}
    assert db.session.scalars(select(Broadcast)).all() == []


def test_an_unknown_segment_is_not_found(members: dict[str, Any]) -> None:
    with pytest.raises(NotFound):
        _make(999999)


def test_laoyou_broadcast_queue_list_and_cancel(
    runner: Any, members: dict[str, Any], vip: int
) -> None:
    broadcast_id = _make(vip, send_at=clock.now() + dt.timedelta(days=1))
    queued = runner.invoke(args=["broadcast", "queue", str(broadcast_id)])
    assert queued.exit_code == 0, queued.output
    assert queued.output.strip() == (f"broadcast {broadcast_id}: targeted 3, skipped 1, queued 3")
    listed = runner.invoke(args=["broadcast", "list"])
    assert "Winter sale" in listed.output and "queued" in listed.output
    cancelled = runner.invoke(args=["broadcast", "cancel", str(broadcast_id)])
    assert (
        cancelled.output.strip()
        == f"broadcast {broadcast_id} cancelled; 3 waiting messages stopped"
    )
    assert runner.invoke(args=["broadcast", "cancel", "999999"]).exit_code == 1
    assert runner.invoke(args=["broadcast", "queue", "1.5"]).exit_code == 2


def test_a_text_with_tabs_line_ends_and_backslashes_arrives_as_written(
    members: dict[str, Any], vip: int
) -> None:
    text = "Hi {name}\n\tC:\\tea\\new\r\n50% off"
    broadcast_id = _make(vip, texts={"en": text})
    queue_broadcast(broadcast_id)
    assert _outbox(broadcast_id)[0].body == "Hi Ann\n\tC:\\tea\\new\r\n50% off"
