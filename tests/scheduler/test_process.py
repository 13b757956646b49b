"""The APScheduler process as built (never started here): its jobs, triggers and options."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from flask import Flask

from app import ConfigError, clock, create_app
from app.db import db
from app.jobs import registered_jobs
from scheduler.process import _fire, build_scheduler
from tests.conftest import settings_for
from tests.scheduler.conftest import outcomes

SHANGHAI = dt.timezone(dt.timedelta(hours=8))


@pytest.fixture
def app_config() -> dict[str, Any]:
    return {"JOB_POINTS_EXPIRY_AT": "01:15", "JOB_INBOUND_PURGE_AT": "off"}


def fields(trigger: CronTrigger) -> dict[str, str]:
    return {f.name: str(f) for f in trigger.fields if not f.is_default}


def test_the_blocking_scheduler_has_every_job_with_its_options(app: Flask) -> None:
    with clock.frozen(dt.datetime(2026, 12, 7, 12, 0, tzinfo=SHANGHAI)):
        scheduler = build_scheduler(app, blocking=True)
    assert isinstance(scheduler, BlockingScheduler) and not scheduler.running
    assert str(scheduler.timezone) == "Asia/Shanghai"
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert sorted(jobs) == [
        "activity_rating_requests",
        "birthday_bonus",
        "birthday_greetings",
        "broadcasts_due",
        "campaign_schedule",
        "card_validity_reminders",
        "form_key_purge",
        "idempotency_purge",
        "ledger_check",
        "level_review",
        "outbox_sweep",
        "points_expiring_reminders",
        "points_expiry",
        "run_history_purge",
        "winback_messages",
    ]  # inbound_purge is off
    # A job every few minutes may start late by its interval at most; the others an hour.
    graces = {
        "outbox_sweep": 300,
        "broadcasts_due": 60,
        "activity_rating_requests": 1800,
        "campaign_schedule": 300,
    }
    for job in jobs.values():
        assert job.coalesce is True
        assert job.max_instances == 1
        assert job.misfire_grace_time == graces.get(job.id, 3600), job.id
    assert fields(jobs["points_expiry"].trigger) == {"hour": "1", "minute": "15"}
    assert fields(jobs["level_review"].trigger) == {
        "month": "1",
        "day": "1",
        "hour": "3",
        "minute": "0",
    }
    sweep = jobs["outbox_sweep"].trigger
    assert isinstance(sweep, IntervalTrigger) and sweep.interval == dt.timedelta(minutes=5)
    assert jobs["points_expiry"].name == "points_expiry (daily 01:15)"


def test_a_daily_job_whose_time_just_passed_runs_at_start(app: Flask) -> None:
    with clock.frozen(dt.datetime(2026, 12, 7, 2, 30, tzinfo=SHANGHAI)):
        scheduler = build_scheduler(app, blocking=False)
    assert isinstance(scheduler, BackgroundScheduler) and not scheduler.running
    jobs = {job.id: job for job in scheduler.get_jobs()}
    # ledger_check (02:00) passed half an hour ago, inside the grace: due at once.
    assert jobs["ledger_check"].next_run_time == dt.datetime(2026, 12, 7, 2, 0, tzinfo=SHANGHAI)
    # points_expiry (01:15) passed 75 minutes ago: missed, it waits for tomorrow.
    assert not hasattr(jobs["points_expiry"], "next_run_time")


def test_a_firing_runs_the_job_in_an_app_context_of_its_own(app: Flask) -> None:
    with clock.frozen(dt.datetime(2026, 12, 7, 1, 15, 2, tzinfo=SHANGHAI)):
        _fire(app, "points_expiry")
        _fire(app, "points_expiry")
    db.session.expire_all()
    assert outcomes("points_expiry") == ["ok", "skipped"]
    from tests.scheduler.conftest import runs

    first = runs("points_expiry")[0]
    assert first.run_key == "points_expiry@2026-12-07T01:15+08:00"
    assert first.trigger == "schedule"


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("JOB_POINTS_EXPIRY_AT", "25:00", "JOB_POINTS_EXPIRY_AT must be HH:MM, MM-DD HH:MM or off"),
        ("JOB_LEVEL_REVIEW_AT", "02-30 03:00", "JOB_LEVEL_REVIEW_AT: '02-30 03:00' is not a day"),
        ("JOB_OUTBOX_SWEEP_EVERY", "0", "JOB_OUTBOX_SWEEP_EVERY must be minutes from 1 to 1440"),
        ("JOB_OUTBOX_SWEEP_EVERY", "1.5", "JOB_OUTBOX_SWEEP_EVERY must be minutes"),
        ("ADMIN_ALERT_PHONES", "+86138, 12", "ADMIN_ALERT_PHONES: '+86138' is not a phone"),
        ("POINTS_EXPIRING_REMINDER_DAYS", "0", "POINTS_EXPIRING_REMINDER_DAYS must be between"),
    ],
)
def test_a_bad_schedule_setting_stops_the_start_naming_it(
    backend: dict[str, Any], setting: str, value: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        create_app(settings_for(backend, **{setting: value}))


def test_job_settings_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from app.config import Settings

    monkeypatch.setenv("JOB_POINTS_EXPIRY_AT", "01:45")
    monkeypatch.setenv("JOB_NOT_A_SETTING", "x")
    flask_config = Settings.from_env().as_flask_config()
    assert flask_config["JOB_POINTS_EXPIRY_AT"] == "01:45"
    assert "JOB_NOT_A_SETTING" not in flask_config


def test_laoyou_run_with_scheduler_starts_it_in_the_serving_process(
    backend: dict[str, Any],
) -> None:
    """``laoyou run --with-scheduler`` calls what the scheduler handed over (every job off
    here, so nothing fires into the test database)."""
    every = registered_jobs(create_app(settings_for(backend))).values()
    settings = {job.setting: "off" for job in every}
    application = create_app(settings_for(backend, **settings))
    started = application.extensions["laoyou.scheduler_start"](application)
    try:
        assert isinstance(started, BackgroundScheduler) and started.running
        assert started.get_jobs() == []
    finally:
        started.shutdown(wait=True)


def test_the_run_command_offers_with_scheduler() -> None:
    from app.cli.run import run_command

    assert "--with-scheduler" in [opt for p in run_command.params for opt in p.opts]
