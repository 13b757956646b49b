"""Several dispatchers, and a dispatcher killed with SIGKILL, on PostgreSQL with real commits."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from app import clock
from app.db import db, unit_of_work
from app.messaging.dispatcher import Dispatcher, DispatchStats
from app.messaging.models import OutboxMessage
from app.messaging.providers import TwilioSender
from app.messaging.services import enqueue
from tests.sms.fake_twilio import FakeTwilio
from tests.sms.support import twilio_settings

pytestmark = pytest.mark.concurrent


@pytest.fixture
def app_config(fake_twilio: FakeTwilio) -> dict[str, Any]:
    return twilio_settings(fake_twilio.base_url, QUIET_HOURS_START="00:00", QUIET_HOURS_END="00:00")


# SKIP LOCKED and separate dispatcher processes: PostgreSQL (SQLite serialises writers).
pytestmark = pytest.mark.postgresql_only


def _queue(app: Flask, count: int) -> list[int]:
    with app.app_context(), unit_of_work():
        return [
            enqueue(address=f"+861380013{n:04d}", body=f"message {n}", kind="alert")
            for n in range(count)
        ]


def test_two_dispatchers_at_once_send_nothing_twice(
    live_app: Flask, fake_twilio: FakeTwilio
) -> None:
    _queue(live_app, 60)
    results: list[DispatchStats] = []
    barrier = threading.Barrier(3)

    def run() -> None:
        with live_app.app_context():
            dispatcher = Dispatcher(
                live_app, sender=TwilioSender(live_app.config), sleep=lambda s: None
            )
            total = DispatchStats()
            barrier.wait()
            while (stats := dispatcher.run_once(batch=5)).claimed:
                total.add(stats)
            results.append(total)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    counts = Counter(fake_twilio.bodies())
    assert len(counts) == 60
    assert max(counts.values()) == 1
    assert sum(r.sent for r in results) == 60
    with live_app.app_context():
        statuses = set(db.session.scalars(select(OutboxMessage.status)))
    assert statuses == {"sending"}


def test_dispatcher_killed_mid_batch_and_restarted_loses_and_duplicates_nothing(
    live_app: Flask, backend: dict[str, Any], fake_twilio: FakeTwilio, tmp_path: Path
) -> None:
    ids = _queue(live_app, 6)
    # Two accepted, then the provider goes quiet: the kill lands while a send is in flight.
    fake_twilio.script("ok", "ok", "hang")
    env = {
        **os.environ,
        **{k: str(v) for k, v in twilio_settings(fake_twilio.base_url).items()},
        "LAOYOU_ENV": "testing",
        "SECRET_KEY": "test-secret-key-that-is-long-enough-000",
        "DATABASE_URL": backend["url"],
        "SMS_SEND_TIMEOUT_SECONDS": "20",
        "QUIET_HOURS_START": "00:00",
        "QUIET_HOURS_END": "00:00",
    }
    laoyou = Path(sys.executable).with_name("laoyou")
    process = subprocess.Popen(
        [str(laoyou), "outbox", "dispatch", "--loop", "--batch", "10"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while len(fake_twilio.requests) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(fake_twilio.requests) == 3, "the dispatcher never reached the third send"
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    assert len(fake_twilio.messages) == 2
    with live_app.app_context():
        rows = list(db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
        assert [r.status for r in rows] == ["sending"] * 6
        assert [r.provider_id is not None for r in rows] == [True, True] + [False] * 4
        # Restarted before the lease ends: the abandoned rows are not touched yet.
        restarted = Dispatcher(live_app, sleep=lambda s: None)
        assert restarted.run_once().claimed == 0
        lease = dt.timedelta(seconds=live_app.config["OUTBOX_LEASE_SECONDS"])
        with clock.frozen(clock.now() + lease + dt.timedelta(seconds=1)):
            stats = restarted.run_once()
        assert stats.sent == 4
        db.session.expire_all()
        rows = list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(ids))))
        assert all(r.provider_id for r in rows)
    counts = Counter(fake_twilio.bodies())
    assert sorted(counts) == [f"message {n}" for n in range(6)]
    assert max(counts.values()) == 1
