"""Two members texting 报名 for the last place at the same moment: one place, one waiting."""

from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

import pytest
from sqlalchemy import select

from app import clock
from app.bot.engine import handle_message
from app.bot.message import Message
from app.campaigns.activities import create_activity
from app.campaigns.activity_models import ActivitySignup
from app.cards.services import enroll
from app.db import db, unit_of_work
from app.stores.services import create_store

pytestmark = pytest.mark.concurrent
PHONES = ("+8613800138100", "+8613800138101", "+8613800138102", "+8613800138103")


def _send(app: Any, barrier: threading.Barrier, phone: str) -> str:
    with app.app_context():
        barrier.wait()
        with unit_of_work():
            reply = handle_message(
                Message("sms", phone, "报名 LAST", f"SM{phone}", dt.datetime.now(dt.UTC))
            )
        db.session.remove()
        return reply.text


def test_two_signups_for_the_last_place(live_app: Any) -> None:
    with unit_of_work():
        create_store("SH01", "南京路店", "华东")
        for phone in PHONES:
            enroll({"phone": phone, "home_store": "SH01"})
        starts = clock.now() + dt.timedelta(days=1)
        create_activity(
            code="LAST",
            titles={"zh-Hans": "最后一席"},
            place="店里",
            starts_at=starts,
            ends_at=starts + dt.timedelta(hours=1),
            capacity=3,
        )
    # One place is taken in advance: three members race for the last two (without the
    # activity's row lock, PostgreSQL confirms all three).
    with unit_of_work():
        handle_message(Message("sms", PHONES[0], "报名 LAST", "SMfirst", dt.datetime.now(dt.UTC)))

    barrier = threading.Barrier(3)
    with ThreadPoolExecutor(3) as pool:
        replies = list(pool.map(partial(_send, live_app, barrier), PHONES[1:]))
    confirmed = [r for r in replies if r.startswith("报名成功")]
    waiting = [r for r in replies if "候补名单第 1 位" in r]
    assert (len(confirmed), len(waiting)) == (2, 1), replies
    statuses = sorted(db.session.scalars(select(ActivitySignup.status)))
    assert statuses == ["confirmed", "confirmed", "confirmed", "waiting"]
    db.session.rollback()


def _winback(app: Any, barrier: threading.Barrier, day: dt.date, n: int) -> str:
    from app.campaigns.activities import send_winback

    with app.app_context():
        barrier.wait()
        try:
            with unit_of_work():
                counts = send_winback(day, f"winback_messages:{day}:{n}")
            return f"sent {counts['sent']}"
        except Exception as exc:  # the loser's whole run rolls back
            return type(exc).__name__
        finally:
            db.session.remove()


def test_two_winback_runs_at_once_queue_one_message_each(live_app: Any) -> None:
    from app.members.models import Member
    from app.messaging.models import OutboxMessage

    with unit_of_work():
        create_store("SH01", "南京路店", "华东")
        for phone in PHONES:
            enroll({"phone": phone, "home_store": "SH01"})
        for member in db.session.scalars(select(Member)):
            member.joined_at = clock.now() - dt.timedelta(days=200)
    day = clock.local_today()
    barrier = threading.Barrier(2)
    with ThreadPoolExecutor(2) as pool:
        outcomes = list(pool.map(partial(_winback, live_app, barrier, day), range(2)))
    assert "sent 4" in outcomes, outcomes
    queued = db.session.scalars(
        select(OutboxMessage.address).where(OutboxMessage.kind == "marketing")
    ).all()
    assert sorted(queued) == sorted(PHONES)
    db.session.rollback()
