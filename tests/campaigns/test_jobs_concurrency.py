"""Each campaigns job run on four hosts at the same moment (real commits): one effect."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

import pytest
from sqlalchemy import func, select

from app import clock
from app.campaigns.broadcasts import create_broadcast
from app.campaigns.jobs import birthday_bonus, birthday_greetings, broadcasts_due
from app.cards.services import enroll
from app.db import db, unit_of_work
from app.ledger.models import Transaction
from app.ledger.rules.io import import_rules
from app.messaging.models import OutboxMessage
from app.stores.services import create_store

pytestmark = pytest.mark.concurrent
RUNNERS = 4
#: 10:00 in Shanghai on 2026-07-28: outside quiet hours, and the members' birthday.
MORNING = dt.datetime(2026, 7, 28, 2, 0, tzinfo=dt.UTC)
DAY = MORNING.date()


def _run(app: Any, barrier: threading.Barrier, job: Callable[..., dict[str, int]], n: int) -> Any:
    with app.app_context():  # the clock is frozen by the test, for every thread at once
        barrier.wait()
        try:
            with unit_of_work():
                return job(DAY, f"{job.__name__}@{DAY}#{n}")
        except Exception as exc:  # a runner that lost a race may fail; it must not double
            return exc
        finally:
            db.session.remove()


def _count(model: Any, *where: Any) -> int:
    db.session.rollback()  # a fresh snapshot (and SQLite's lock released)
    return int(db.session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def test_the_jobs_run_on_several_hosts_at_once_act_once(live_app: Any) -> None:
    with unit_of_work(), clock.frozen(MORNING):
        create_store("SH01", "南京路店", "华东")
        import_rules({"version": 1, "earning": {"birthday_points": 50}})
        for n in range(3):
            enroll({"phone": f"+861380013800{n}", "home_store": "SH01", "birthday": "1990-07-28"})
        enroll({"phone": "+8613800138009", "home_store": "SH01", "birthday": "1990-07-29"})
        create_broadcast(
            title="Now",
            segment_id=None,
            channels="sms",
            texts={"zh-Hans": "{name}您好"},
            send_at=None,
            created_by="test",
        )
    db.session.remove()

    # Frozen here, once: ``clock.frozen`` sets a module global, and threads entering and
    # leaving it each would leave it frozen for the tests after this one.
    with clock.frozen(MORNING):
        for job in (birthday_greetings, birthday_bonus, broadcasts_due):
            barrier = threading.Barrier(RUNNERS)
            with ThreadPoolExecutor(RUNNERS) as pool:
                list(pool.map(partial(_run, live_app, barrier, job), range(RUNNERS)))

    assert _count(OutboxMessage, OutboxMessage.dedupe_key.like("birthday:%")) == 3
    assert _count(Transaction, Transaction.reason == "birthday") == 3
    assert _count(OutboxMessage, OutboxMessage.broadcast_id.is_not(None)) == 4
