"""The APScheduler 3.x process: one trigger per registered job, each run in its own unit of work.

``laoyou scheduler`` runs a ``BlockingScheduler`` in the foreground (production: its own
process, beside ``laoyou outbox dispatch --loop``); ``laoyou run --with-scheduler`` (the
demo, ``make run``) a ``BackgroundScheduler`` in the serving process. Both come from
``build_scheduler``. The job store is in memory: the schedule is the code's and the
settings', rebuilt at every start, and what ran is in ``job_run``.

Options on every job: ``coalesce`` (runs missed while the process was stopped or busy
become one), ``max_instances=1`` (a job never overlaps itself in one process; across
processes the advisory lock and the run key do it), and ``misfire_grace_time`` (a run
that starts late by up to ``SCHEDULER_MISFIRE_GRACE_SECONDS``, or for a job that runs
every few minutes up to its interval, still runs). A daily or yearly job whose last
time passed within that grace before the process started runs at once: the run key
makes that a no-op when it had already run.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from flask import Flask

from app import clock
from app.jobs import Schedule, parse_schedule, registered_jobs
from scheduler.runner import latest_slot, run_scheduled

log = logging.getLogger("laoyou.scheduler")


def build_scheduler(app: Flask, *, blocking: bool) -> BaseScheduler:
    """A scheduler with one APScheduler job per registered, scheduled job; not started."""
    with app.app_context():
        zone = clock.zone()
        now = clock.now()
        grace = int(app.config["SCHEDULER_MISFIRE_GRACE_SECONDS"])
        # SQLite has one writer: jobs wait for each other rather than time out on its lock.
        sqlite = app.config["DATABASE_URL"].startswith("sqlite")
        cls = BlockingScheduler if blocking else BackgroundScheduler
        scheduler = cls(
            timezone=zone,
            executors={"default": ThreadPoolExecutor(max_workers=1 if sqlite else 4)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": grace},
        )
        for name, job in registered_jobs(app).items():
            schedule = parse_schedule(job, app.config)
            if schedule.kind == "off":
                log.info("job %s is off (%s=off)", name, job.setting)
                continue
            # Explicit on each job (the defaults above apply only once a scheduler starts).
            options: dict[str, Any] = {"coalesce": True, "max_instances": 1}
            options["misfire_grace_time"] = grace
            if schedule.kind == "every":
                options["misfire_grace_time"] = min(grace, schedule.every_minutes * 60)
            else:
                previous = latest_slot(schedule, now)
                if (now - previous).total_seconds() <= grace:
                    options["next_run_time"] = previous.astimezone(zone)
            scheduler.add_job(
                _fire,
                trigger(schedule, now),
                args=(app, name),
                id=name,
                name=f"{name} ({schedule.describe()})",
                replace_existing=True,
                **options,
            )
    return scheduler


def trigger(schedule: Schedule, now: dt.datetime) -> BaseTrigger:
    zone = clock.zone()
    if schedule.kind == "daily":
        return CronTrigger(hour=schedule.hour, minute=schedule.minute, timezone=zone)
    if schedule.kind == "yearly":
        return CronTrigger(
            month=schedule.month,
            day=schedule.day,
            hour=schedule.hour,
            minute=schedule.minute,
            timezone=zone,
        )
    if schedule.kind == "every":
        midnight = dt.datetime.combine(clock.to_local(now).date(), dt.time(), zone)
        return IntervalTrigger(minutes=schedule.every_minutes, start_date=midnight, timezone=zone)
    raise ValueError(f"no trigger for a schedule that is {schedule.kind}")


def _fire(app: Flask, name: str) -> None:
    """One firing: an app context of its own (its own session), the run recorded."""
    with app.app_context():
        run_scheduled(name)


def start_background(app: Flask) -> BaseScheduler:
    """``laoyou run --with-scheduler``: the jobs in threads of the serving process."""
    scheduler = build_scheduler(app, blocking=False)
    scheduler.start()
    log.info("scheduler started in this process: %s", ", ".join(j.id for j in scheduler.get_jobs()))
    return scheduler
