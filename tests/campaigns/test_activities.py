"""Club activities: sign-up by keyword and at the counter, the waiting list, check-in with
points once, the rating by reply after the rating request, and the win-back job."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from app import clock
from app.campaigns import activities
from app.campaigns.activity_models import ActivitySignup
from app.db import db
from app.jobs import registered_jobs
from app.ledger.balances import member_balances
from app.ledger.models import Transaction
from app.messaging.models import OutboxMessage


def _activity(
    code: str = "TEA1",
    *,
    capacity: int = 2,
    points: int = 0,
    starts_in: dt.timedelta = dt.timedelta(hours=1),
    min_level_rank: int | None = None,
) -> Any:
    starts = clock.now() + starts_in
    return activities.create_activity(
        code=code,
        titles={"zh-Hans": "茶艺沙龙", "zh-Hant": "茶藝沙龍", "en": "Tea salon"},
        place="南京路店二楼",
        starts_at=starts,
        ends_at=starts + dt.timedelta(hours=2),
        capacity=capacity,
        points=points,
        min_level_rank=min_level_rank,
    )


def _outbox(member: Any) -> list[OutboxMessage]:
    return list(
        db.session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.member_id == member.id)
            .order_by(OutboxMessage.id)
        )
    )


def _signup(activity: Any, member: Any) -> ActivitySignup:
    found = activities.signup_of(activity, member.id)
    assert found is not None
    return found


def test_an_activity_from_signup_to_rating(
    bot: Callable[..., Any], make_member: Callable[..., Any], api: Any
) -> None:
    member = make_member("+8613800138000", name="王芳")
    activity = _activity(points=50)
    phone = bot("+8613800138000")

    reply = phone.text("报名 TEA1")
    code = _signup(activity, member).checkin_code
    assert reply.startswith("报名成功：“茶艺沙龙”")
    assert f"您的签到码是 {code}" in reply
    assert _signup(activity, member).status == "confirmed"

    # At the door: the code the member shows; a second scan changes nothing.
    first = api.post("/api/v1/activities/TEA1/checkins", json={"checkin_code": code})
    assert first.status_code == 200, first.json
    assert first.json["points"] == 50 and first.json["already_checked_in"] is False
    again = api.post("/api/v1/activities/tea1/checkins", json={"member": "13800138000"})
    assert again.status_code == 200
    assert again.json["points"] == 0 and again.json["already_checked_in"] is True
    assert member_balances(member.id).points == 50
    attendance = select(func.count()).where(Transaction.reason == "activity_attendance")
    assert db.session.scalar(attendance) == 1

    # Before the end no rating is asked for, and a "5" is just a digit.
    job = registered_jobs()["activity_rating_requests"].func
    assert job(clock.local_today(), "k1") == {"requests": 0}
    assert phone.text("5") == "抱歉，没有看懂您的指令。回复“帮助”查看全部指令。"

    with clock.frozen(activity.ends_at + dt.timedelta(minutes=10)):
        assert job(clock.local_today(), "k2") == {"requests": 1}
        assert job(clock.local_today(), "k3") == {"requests": 0}
        asked = [m for m in _outbox(member) if "活动怎么样" in m.body]
        assert len(asked) == 1 and asked[0].address == "+8613800138000"

        thanks = phone.text("5 很好，茶很香")
    assert thanks == "感谢您为“茶艺沙龙”打出 5 分（满分 5 分）！"
    rated = _signup(activity, member)
    assert (rated.rating, rated.comment) == (5, "很好，茶很香")

    stats = activities.statistics(activity)
    assert (stats.confirmed, stats.attended, stats.rated, stats.average_text) == (1, 1, 1, "5.0")
    # Answered: the next digit is no rating.
    assert activities.pending_rating(member.id) is None


def test_the_waiting_list_is_promoted_in_order(
    bot: Callable[..., Any], make_member: Callable[..., Any]
) -> None:
    a, b, c = (make_member(p) for p in ("+8613800000001", "+8613800000002", "+8613800000003"))
    activity = _activity(capacity=1)
    assert bot("+8613800000001").text("报名 TEA1").startswith("报名成功")
    assert "候补名单第 1 位" in bot("+8613800000002").text("报名TEA1")
    assert "候补名单第 2 位" in bot("+8613800000003").text("BM TEA1")
    assert "您已在“茶艺沙龙”的候补名单中（第 2 位）" in bot("+8613800000003").text("报名 TEA1")

    assert bot("+8613800000001").text("取消报名 TEA1") == "您已取消“茶艺沙龙”的报名。"
    assert _signup(activity, a).status == "cancelled"
    assert _signup(activity, b).status == "confirmed"
    assert _signup(activity, c).status == "waiting"
    assert activities.waiting_position(_signup(activity, c)) == 1
    told = [m.body for m in _outbox(b)]
    assert len(told) == 1 and told[0].startswith("好消息：有名额空出")
    assert _signup(activity, b).checkin_code in told[0]
    assert _outbox(c) == []

    # Signing up again goes to the back of the queue.
    assert "候补名单第 2 位" in bot("+8613800000001").text("报名 TEA1")
    # The one waiting cancelling frees no place: nobody is promoted.
    bot("+8613800000003").text("取消报名 TEA1")
    assert _signup(activity, a).status == "waiting"


@pytest.mark.parametrize(
    ("language", "texts", "expected"),
    [
        (
            "zh-Hans",
            ("报名 TEA1", "取消报名 TEA1"),
            ("报名成功：“茶艺沙龙”", "您已取消“茶艺沙龙”的报名。"),
        ),
        (
            "zh-Hant",
            ("報名 TEA1", "取消報名 TEA1"),
            ("報名成功：「茶藝沙龍」", "您已取消「茶藝沙龍」的報名。"),
        ),
        (
            "en",
            ("SIGNUP TEA1", "CANCEL TEA1"),
            ("You are signed up for “Tea salon”", "Your sign-up for “Tea salon” is cancelled."),
        ),
    ],
)
def test_keywords_in_three_languages(
    bot: Callable[..., Any],
    make_member: Callable[..., Any],
    language: str,
    texts: tuple[str, str],
    expected: tuple[str, str],
) -> None:
    make_member("+8613800138001", language=language)
    _activity()
    phone = bot("+8613800138001")
    assert phone.text(texts[0]).startswith(expected[0])
    assert phone.text(texts[1]) == expected[1]


def test_signup_replies_for_the_refusals(
    bot: Callable[..., Any], make_member: Callable[..., Any], make_level: Callable[..., Any]
) -> None:
    make_level("Silver", 1)
    make_level("金卡", 2)
    make_member("+8613800138002")
    _activity("VIP1", min_level_rank=2)
    _activity("PAST", starts_in=dt.timedelta(hours=-1))
    phone = bot("+8613800138002")
    assert phone.text("报名 VIP1") == "抱歉，“茶艺沙龙”仅限金卡及以上等级的会员参加。"
    assert phone.text("报名 PAST") == "“茶艺沙龙”已开始，报名已截止。"
    assert phone.text("报名 NOPE9").startswith("没有代码为 NOPE9 的活动")
    listing = phone.text("报名")
    assert listing.startswith("可报名的活动：VIP1 茶艺沙龙") and "PAST" not in listing
    assert phone.text("取消报名 VIP1") == "您没有报名“茶艺沙龙”。"


def test_cancel_alone_still_opts_out(
    bot: Callable[..., Any], make_member: Callable[..., Any]
) -> None:
    make_member("+8613800138003", language="en")
    _activity()
    phone = bot("+8613800138003")
    assert (
        phone.send("Cancel my messages").text
        == "To stop all messages from us, text STOP on its own."
    )
    assert phone.send("CANCEL").command == "opt_out"


def test_counter_signup_and_checkin_refusals(make_member: Callable[..., Any], api: Any) -> None:
    member = make_member("+8613800138004")
    other = make_member("+8613800138005")
    _activity(capacity=1, starts_in=dt.timedelta(hours=5))
    signed = api.post("/api/v1/activities/TEA1/signups", json={"member": "13800138004"})
    assert signed.status_code == 201, signed.json
    assert signed.json["status"] == "confirmed" and signed.json["position"] is None
    sent = _outbox(member)
    assert len(sent) == 1 and signed.json["checkin_code"] in sent[0].body
    waiting = api.post("/api/v1/activities/TEA1/signups", json={"member": other.phone})
    assert (waiting.json["status"], waiting.json["position"]) == ("waiting", 1)
    again = api.post("/api/v1/activities/TEA1/signups", json={"member": "13800138004"})
    assert (again.status_code, again.json["error"]["code"]) == (409, "already_signed_up")

    url = "/api/v1/activities/TEA1/checkins"
    too_early = api.post(url, json={"member": "13800138004"})
    assert too_early.status_code == 409
    assert too_early.json["error"]["details"]["reason"] == "too_early"
    with clock.frozen(clock.now() + dt.timedelta(hours=4)):
        refused = api.post(url, json={"member": other.phone})
        assert refused.json["error"]["details"]["reason"] == "waiting"
    assert api.post(url, json={"checkin_code": "000000"}).status_code == 404

    for body in (
        {"member": "13800138004", "checkin_code": "123456"},
        {},
        {"checkin_code": "12345"},
        {"checkin_code": 123456},
        {"member": "a\u0000b"},
    ):
        bad = api.post(url, json=body)
        assert bad.status_code == 400, (body, bad.json)
    assert api.post("/api/v1/activities/TEA1/signups", json={"member": 1.5}).status_code == 400
    missing = api.post("/api/v1/activities/NOPE/signups", json={"member": "13800138004"})
    assert missing.status_code == 404
    unknown = api.post("/api/v1/activities/TEA1/signups", json={"member": "13999999999"})
    assert unknown.status_code == 404
    assert db.session.scalar(select(func.count()).select_from(ActivitySignup)) == 2
    assert (
        db.session.scalar(select(func.count()).where(ActivitySignup.checked_in_at.is_not(None)))
        == 0
    )


def test_winback_twice_sends_one_message_each(app: Flask, make_member: Callable[..., Any]) -> None:
    from app.cards.services import member_cards
    from app.ledger import operations

    today = clock.local_today()
    long_ago = clock.now() - dt.timedelta(days=120)
    idle = make_member("+8613800138010", name="李雷")
    busy = make_member("+8613800138011")
    out = make_member("+8613800138012")
    new = make_member("+8613800138013")
    for member in (idle, busy, out):
        member.joined_at = long_ago
    out.sms_opt_out = True
    operations.recharge(
        member_cards(busy)[0], busy.home_store, 10_000, key="winback-recharge", actor="test"
    )
    db.session.flush()

    job = registered_jobs()["winback_messages"].func
    first = job(today, f"winback_messages:{today}")
    assert first == {"sent": 1, "opted_out": 1, "idle_days": 90}
    second = job(today, f"winback_messages:{today}:again")
    assert second["sent"] == 0

    def marketing(member: Any) -> list[OutboxMessage]:
        return [m for m in _outbox(member) if m.kind == "marketing"]

    sent = marketing(idle)
    assert len(sent) == 1 and sent[0].body.startswith("李雷，好久不见")
    assert marketing(busy) == marketing(out) == marketing(new) == []

    # Within the period nothing more; after it, one more (the others idle by then too).
    assert job(today + dt.timedelta(days=30), "k30")["sent"] == 0
    later = job(today + dt.timedelta(days=91), "k91")
    assert later["sent"] == 3
    assert len(marketing(idle)) == 2 and len(marketing(busy)) == 1


def test_bad_activities_are_refused(app: Flask) -> None:
    good: dict[str, Any] = {
        "code": "OK1",
        "titles": {"zh-Hans": "活动"},
        "place": "店里",
        "starts_at": clock.now() + dt.timedelta(days=1),
        "ends_at": clock.now() + dt.timedelta(days=1, hours=1),
        "capacity": 10,
    }
    for change in (
        {"code": "bad code"},
        {"titles": {"en": "only English"}},
        {"place": ""},
        {"ends_at": good["starts_at"]},
        {"capacity": 0},
        {"capacity": 100_001},
        {"points": -1},
    ):
        with pytest.raises(activities.InvalidRequest):
            activities.create_activity(**{**good, **change})
    activities.create_activity(**good)
    with pytest.raises(activities.InvalidRequest):
        activities.create_activity(**good)
