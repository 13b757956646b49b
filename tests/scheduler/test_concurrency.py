"""Two runners at once, with real commits: one takes effect, the other skips (PostgreSQL's
advisory lock elects it; each thread has its own app context, session and connection)."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from app.db import db, unit_of_work
from app.jobs import Job, JobFunc, RunResult, register_job
from app.ledger.models import Transaction
from app.messaging.models import OutboxMessage
from app.messaging.services import enqueue
from scheduler.models import JobRun
from scheduler.services import run_now

pytestmark = [pytest.mark.concurrent, pytest.mark.postgresql_only]

DAY = dt.date(2026, 12, 7)


def in_thread(app: Flask, name: str, results: dict[str, RunResult], slot: str) -> threading.Thread:
    def run() -> None:
        with app.app_context():
            try:
                results[slot] = run_now(name, as_of=DAY, trigger="schedule")
            finally:
                db.session.remove()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def register(app: Flask, func: JobFunc) -> None:
    register_job(app, Job("race_job", func, "A job of the tests", at="03:00"))


def test_a_second_runner_skips_while_the_first_holds_the_lock(live_app: Flask) -> None:
    started, release = threading.Event(), threading.Event()

    def slow(as_of: dt.date, key: str) -> dict[str, int]:
        enqueue(address="+8613800000006", body="once", kind="system", dedupe_key=f"race:{key}")
        started.set()
        assert release.wait(30)
        return {"queued": 1}

    register(live_app, slow)
    results: dict[str, RunResult] = {}
    first = in_thread(live_app, "race_job", results, "first")
    assert started.wait(30)
    second = in_thread(live_app, "race_job", results, "second")
    second.join(30)
    release.set()
    first.join(30)
    assert results["first"].outcome == "ok"
    assert (results["second"].outcome, results["second"].message) == (
        "skipped",
        "another runner holds this job's lock",
    )
    with unit_of_work() as session:
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 1
        rows = session.execute(select(JobRun.outcome, JobRun.run_key).order_by(JobRun.id)).all()
    assert sorted(rows, key=lambda r: r[0]) == [
        ("ok", "race_job@2026-12-07T03:00+08:00"),
        ("skipped", None),
    ]


def test_the_points_expiry_fired_on_four_hosts_at_once_expires_once(
    live_app: Flask, make_member_committed: Any
) -> None:
    make_member_committed(points=100, expires_on=dt.date(2026, 12, 1))
    barrier = threading.Barrier(4)
    results: list[RunResult] = []
    lock = threading.Lock()

    def run() -> None:
        with live_app.app_context():
            barrier.wait()
            try:
                result = run_now("points_expiry", as_of=DAY, trigger="schedule")
                with lock:
                    results.append(result)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(r.outcome for r in results) == ["ok", "skipped", "skipped", "skipped"]
    with unit_of_work() as session:
        expiries = session.scalar(
            select(func.count()).select_from(Transaction).where(Transaction.kind == "expiry")
        )
    assert expiries == 1


@pytest.fixture
def make_member_committed(live_app: Flask) -> Any:
    from app.cards.services import enroll, member_cards
    from app.ledger import journal
    from app.stores.services import create_store

    def make(*, points: int, expires_on: dt.date) -> None:
        with unit_of_work():
            create_store("SH01", "Store SH01", "East")
            member = enroll({"phone": "+8613900001234", "home_store": "SH01"})
            journal.credit_points(
                member_cards(member)[0], points, kind="gift", key="race-gift", expires_on=expires_on
            )
        db.session.remove()

    return make
