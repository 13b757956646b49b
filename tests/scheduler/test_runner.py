"""One run of a job: its key written with its effects, a repeat skipped, a failure rolled back."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, update

from app import clock
from app.audit.models import AuditEntry
from app.db import db
from app.jobs import parse_schedule, registered_jobs
from app.ledger.models import Account, IdempotencyRecord, Transaction
from app.messaging.models import InboundMessage, OutboxMessage
from app.messaging.services import enqueue
from scheduler.models import JobRun
from scheduler.runner import latest_slot, run_key, slot_for_day
from scheduler.services import last_runs, recent_runs, run_counts, run_now
from tests.scheduler.conftest import count, outcomes, runs

DAY = dt.date(2026, 12, 7)
SHANGHAI = dt.timezone(dt.timedelta(hours=8))


@pytest.fixture
def app_config() -> dict[str, Any]:
    return {"ADMIN_ALERT_PHONES": "+8613800000001, 13800000002"}


def test_every_package_job_is_registered_with_its_schedule(app: Flask) -> None:
    described = {
        name: parse_schedule(job, app.config).describe()
        for name, job in registered_jobs(app).items()
    }
    assert described == {
        "points_expiry": "daily 00:30",
        "points_expiring_reminders": "daily 10:00",
        "level_review": "yearly 01-01 03:00",
        "ledger_check": "daily 02:00",
        "idempotency_purge": "daily 04:10",
        "inbound_purge": "daily 04:00",
        "outbox_sweep": "every 5 min",
        "run_history_purge": "daily 04:20",
        "card_validity_reminders": "daily 10:05",
        "form_key_purge": "daily 04:40",
        "birthday_bonus": "daily 00:45",
        "birthday_greetings": "daily 10:00",
        "broadcasts_due": "every 1 min",
        "activity_rating_requests": "every 30 min",
        "winback_messages": "daily 11:00",
        "campaign_schedule": "every 5 min",
    }


@pytest.mark.parametrize(
    "name",
    [
        "points_expiry",
        "points_expiring_reminders",
        "level_review",
        "ledger_check",
        "idempotency_purge",
        "inbound_purge",
        "outbox_sweep",
        "run_history_purge",
        "card_validity_reminders",
        "form_key_purge",
        "birthday_greetings",
        "birthday_bonus",
        "broadcasts_due",
        "campaign_schedule",
    ],
)
def test_each_job_twice_for_one_day_runs_once(app: Flask, name: str) -> None:
    first = run_now(name, as_of=DAY, trigger="cli")
    second = run_now(name, as_of=DAY, trigger="cli")
    assert first.outcome == "ok", first.message
    assert (second.outcome, second.message) == ("skipped", "already ran for this scheduled time")
    assert second.run_key == first.run_key
    ok, skipped = runs(name)
    assert (ok.outcome, ok.run_key, ok.trigger) == ("ok", first.run_key, "cli")
    assert (skipped.outcome, skipped.run_key) == ("skipped", None)
    assert skipped.error == "already ran for this scheduled time"


def test_points_expiry_twice_expires_once(app: Flask, points_card: Any) -> None:
    card = points_card(100, dt.date(2026, 12, 1))
    kept = points_card(40, dt.date(2026, 12, 31))
    first = run_now("points_expiry", as_of=DAY, trigger="cli")
    assert first.run_key == "points_expiry@2026-12-07T00:30+08:00"
    assert first.counts == {"already_done": 0, "cards": 1, "lots": 1, "points": 100}
    assert run_now("points_expiry", as_of=DAY, trigger="cli").outcome == "skipped"
    assert count(Transaction, Transaction.kind == "expiry") == 1
    balance = db.session.scalar(
        select(Account.balance).where(Account.card_id == card.id, Account.asset == "points")
    )
    assert balance == 0
    kept_balance = db.session.scalar(
        select(Account.balance).where(Account.card_id == kept.id, Account.asset == "points")
    )
    assert kept_balance == 40


def test_points_expiring_reminders_twice_queue_one_message(app: Flask, points_card: Any) -> None:
    card = points_card(120, dt.date(2026, 12, 20))
    points_card(50, dt.date(2027, 3, 1))  # beyond the 30 days
    assert run_now("points_expiring_reminders", as_of=DAY, trigger="cli").counts == {
        "cards": 1,
        "days_ahead": 30,
    }
    # Another day's run (a new key) finds the same lots: the outbox's key stops a repeat.
    assert run_now("points_expiring_reminders", as_of=DAY, trigger="cli").outcome == "skipped"
    nxt = run_now("points_expiring_reminders", as_of=DAY + dt.timedelta(days=1), trigger="cli")
    assert nxt.outcome == "ok"
    (row,) = db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.alert_type == "points_expiring")
    )
    assert row.address == card.member.phone and "120" in row.body


def test_period_card_reminders_once_per_card_and_last_day(
    app: Flask, make_member: Any, make_card: Any
) -> None:
    member = make_member(language="en")
    ending = make_card(
        "period",
        member=member,
        valid_from=dt.date(2026, 12, 1),
        valid_until=DAY + dt.timedelta(days=5),
    )
    make_card("period", member=make_member(), valid_from=DAY, valid_until=dt.date(2027, 1, 6))
    lost = make_card("period", member=make_member(), valid_from=DAY, valid_until=DAY)
    lost.state = "lost"
    make_card("period", valid_from=DAY, valid_until=DAY)  # anonymous: no one to remind
    db.session.flush()
    assert run_now("card_validity_reminders", as_of=DAY, trigger="cli").counts == {
        "cards": 1,
        "days_ahead": 7,
    }
    again = run_now("card_validity_reminders", as_of=DAY + dt.timedelta(days=1), trigger="cli")
    assert again.counts["cards"] == 1  # the same card, a new day: no second message
    (row,) = db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.dedupe_key.like("alert:card_expiring:%"))
    )
    assert row.address == member.phone and row.kind == "alert"
    assert row.body == (
        f"Card *{ending.number[-4:]} is valid until 2026-12-12. "
        "Renew it at any of our stores to keep its benefits."
    )


def test_the_purges_delete_only_what_is_older_than_the_setting(app: Flask, make_store: Any) -> None:
    store = make_store("SH01")
    long_ago = dt.datetime(2026, 9, 1, tzinfo=dt.UTC)  # 97 days before DAY
    recent = dt.datetime(2026, 11, 30, tzinfo=dt.UTC)
    for i, at in enumerate((long_ago, recent)):
        db.session.add(
            InboundMessage(
                channel="sms",
                provider_id=f"SM{i}",
                sender="+8613800000009",
                text="积分",
                status="replied",
                received_at=at,
            )
        )
        db.session.add(
            IdempotencyRecord(
                store_id=store.id, key=f"k{i}", request_hash="0" * 64, status=200, created_at=at
            )
        )
    db.session.add(
        IdempotencyRecord(
            store_id=store.id, key="running", request_hash="0" * 64, created_at=long_ago
        )
    )
    db.session.flush()
    assert run_now("inbound_purge", as_of=DAY, trigger="cli").counts == {
        "messages": 1,
        "older_than_days": 90,
    }
    assert run_now("idempotency_purge", as_of=DAY, trigger="cli").counts == {
        "older_than_days": 30,
        "records": 1,
    }
    assert [m.provider_id for m in db.session.scalars(select(InboundMessage))] == ["SM1"]
    assert sorted(r.key for r in db.session.scalars(select(IdempotencyRecord))) == [
        "k1",
        "running",
    ]


def test_the_outbox_sweep_queues_again_what_a_dead_dispatcher_left(app: Flask) -> None:
    now = clock.now()
    stuck = enqueue(address="+8613800000003", body="hello", kind="system")
    handed = enqueue(address="+8613800000004", body="hello", kind="system")
    db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == stuck)
        .values(status="sending", lease_until=now - dt.timedelta(minutes=1))
    )
    db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == handed)
        .values(status="sending", provider_id="SMx", lease_until=now - dt.timedelta(minutes=1))
    )
    db.session.flush()
    assert run_now("outbox_sweep", trigger="cli").counts == {"requeued": 1}
    db.session.expire_all()
    assert db.session.get(OutboxMessage, stuck).status == "queued"  # type: ignore[union-attr]
    assert db.session.get(OutboxMessage, handed).status == "sending"  # type: ignore[union-attr]


def test_a_failing_job_is_recorded_failed_and_its_effects_rolled_back(
    app: Flask, test_job: Any
) -> None:
    calls: list[str] = []

    def boom(as_of: dt.date, key: str) -> dict[str, int]:
        enqueue(address="+8613800000005", body="half done", kind="system", dedupe_key=key)
        calls.append(key)
        if len(calls) == 1:
            raise RuntimeError("the provider is down")
        return {"sent": 1}

    test_job(boom)
    failed = run_now("test_job", as_of=DAY, trigger="cli")
    assert (failed.outcome, failed.message) == ("failed", "RuntimeError: the provider is down")
    assert count(OutboxMessage) == 0
    (row,) = runs("test_job")
    assert row.outcome == "failed" and row.run_key is None
    assert row.error is not None and row.error.startswith("RuntimeError: the provider is down")
    assert "Traceback" in row.error
    # The key stayed free: the retry runs and takes effect once.
    retry = run_now("test_job", as_of=DAY, trigger="cli")
    assert retry.outcome == "ok" and retry.counts == {"sent": 1}
    assert count(OutboxMessage) == 1
    assert outcomes("test_job") == ["failed", "ok"]


def test_a_job_that_returns_no_counts_fails(app: Flask, test_job: Any) -> None:
    test_job(lambda as_of, key: {"ok": "yes"})  # type: ignore[dict-item]
    result = run_now("test_job", as_of=DAY, trigger="cli")
    assert result.outcome == "failed" and result.message.startswith("TypeError: job test_job")


def test_a_failed_ledger_check_alerts_the_admin_phones_and_is_audited(
    app: Flask, points_card: Any
) -> None:
    card = points_card(100, None)
    assert run_now("ledger_check", as_of=DAY, trigger="cli").outcome == "ok"
    db.session.execute(
        update(Account)
        .where(Account.card_id == card.id, Account.asset == "points")
        .values(balance=Account.balance + 1)
    )
    db.session.flush()
    result = run_now("ledger_check", as_of=DAY + dt.timedelta(days=1), trigger="cli")
    assert result.outcome == "failed"
    assert result.message.startswith("LedgerCheckFailed: ledger check:")
    alerts = list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "system")))
    assert sorted(a.address for a in alerts) == ["+8613800000001", "+8613800000002"]
    assert alerts[0].body == "老友：夜间账目核对发现 2 个问题，请到管理后台的“定时任务”页查看。"
    (entry,) = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "ledger.check_failed")
    )
    assert entry.object_id == "ledger_check@2026-12-08T02:00+08:00"
    assert entry.after is not None and entry.after["count"] == 2
    (failed,) = [r for r in runs("ledger_check") if r.outcome == "failed"]
    assert "cached balance 101, lines sum to 100" in (failed.error or "")


def test_the_recorded_runs_for_the_panel_and_the_reports(app: Flask, test_job: Any) -> None:
    test_job(lambda as_of, key: {"n": as_of.day})
    run_now("test_job", as_of=DAY, trigger="cli")
    run_now("test_job", as_of=DAY, trigger="panel")
    run_now("test_job", as_of=DAY + dt.timedelta(days=1), trigger="cli")
    newest = recent_runs("test_job")
    assert [(r.outcome, r.counts) for r in newest] == [
        ("ok", {"n": 8}),
        ("skipped", {}),
        ("ok", {"n": 7}),
    ]
    assert last_runs()["test_job"].counts == {"n": 8}
    counted = {(c.job, c.outcome): c.count for c in run_counts()}
    assert counted[("test_job", "ok")] == 2 and counted[("test_job", "skipped")] == 1
    assert all(c.last_finished_at is not None for c in run_counts())


def test_slots_and_keys_in_the_programme_time_zone(app: Flask) -> None:
    jobs = registered_jobs(app)
    daily = parse_schedule(jobs["points_expiry"], app.config)
    yearly = parse_schedule(jobs["level_review"], app.config)
    every = parse_schedule(jobs["outbox_sweep"], app.config)
    before = dt.datetime(2026, 12, 7, 0, 10, tzinfo=SHANGHAI)
    after = dt.datetime(2026, 12, 7, 0, 40, tzinfo=SHANGHAI)
    assert latest_slot(daily, before) == dt.datetime(2026, 12, 6, 0, 30, tzinfo=SHANGHAI)
    assert latest_slot(daily, after) == dt.datetime(2026, 12, 7, 0, 30, tzinfo=SHANGHAI)
    assert latest_slot(yearly, after) == dt.datetime(2026, 1, 1, 3, 0, tzinfo=SHANGHAI)
    assert latest_slot(every, after) == dt.datetime(2026, 12, 7, 0, 40, tzinfo=SHANGHAI)
    assert latest_slot(every, after + dt.timedelta(minutes=4)) == after
    assert (
        run_key("points_expiry", slot_for_day(daily, DAY)) == "points_expiry@2026-12-07T00:30+08:00"
    )
    # Another day than today: that day's midnight (today: the current slot).
    assert slot_for_day(every, dt.date(2026, 1, 2)) == dt.datetime(2026, 1, 2, tzinfo=SHANGHAI)


def test_run_rows_carry_host_and_times(app: Flask, test_job: Any) -> None:
    test_job(lambda as_of, key: {})
    with clock.frozen(dt.datetime(2026, 12, 7, 3, 0, 5, tzinfo=SHANGHAI)):
        result = run_now("test_job", trigger="cli")
    assert result.message == "nothing to do"
    row = db.session.scalars(select(JobRun)).one()
    assert row.scheduled_for == dt.datetime(2026, 12, 7, 3, 0, tzinfo=SHANGHAI)
    assert row.started_at == dt.datetime(2026, 12, 7, 3, 0, 5, tzinfo=SHANGHAI)
    assert ":" in row.host


def test_form_key_purge_keeps_two_days_of_keys(app: Flask) -> None:
    from app.admin.models import FormKey

    made = dt.datetime(2026, 12, 4, 15, 0, tzinfo=dt.UTC)  # 23:00 on 12-04 in Shanghai
    fresh = dt.datetime(2026, 12, 4, 16, 30, tzinfo=dt.UTC)  # 00:30 on 12-05
    db.session.add_all(
        [
            FormKey(key="a" * 32, staff_username="boss", action="card.freeze", created_at=made),
            FormKey(key="b" * 32, staff_username="boss", action="card.freeze", created_at=fresh),
        ]
    )
    db.session.commit()

    result = run_now("form_key_purge", as_of=dt.date(2026, 12, 7), trigger="cli")

    assert result.outcome == "ok"
    assert [k.key for k in db.session.scalars(select(FormKey))] == ["b" * 32]
