"""Running one job: its own unit of work, its key written with its effects, one runner.

1. On PostgreSQL, ``pg_try_advisory_xact_lock`` (a lock per job name, held until the
   transaction ends) elects one runner: a second process, or host, that tries while the
   first runs is recorded ``skipped`` at once instead of waiting. SQLite has one writer at
   a time anyway (``BEGIN IMMEDIATE``): a second runner waits, then finds the key.
2. In the same transaction: a run that already took effect under this key means
   ``skipped``; otherwise the job runs (it flushes) and the ``job_run`` row holding the
   key is added, and one commit makes both durable, or neither.
3. Any exception rolls the effects back (an error marked ``persist``, such as a failed
   ledger check, keeps what it flushed: its alert), is logged with its traceback, and the
   attempt is recorded ``failed`` in a transaction of its own, the key left free so the
   run can be retried.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import socket
import traceback
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from app import clock
from app.db import unit_of_work
from app.jobs import Job, RunResult, Schedule, parse_schedule, registered_jobs
from scheduler.models import JobRun

log = logging.getLogger("laoyou.scheduler")

#: The most of an error (message and traceback tail) kept on the run's row.
MAX_ERROR_CHARS = 4000


class UnknownJob(LookupError):
    """No job of that name is registered."""


class _Skip(Exception):
    """Nothing to do for this attempt: the message says why."""


def host_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:120]


def job_named(name: str) -> Job:
    job = registered_jobs().get(name)
    if job is None:
        raise UnknownJob(name)
    return job


def schedule_of(job: Job) -> Schedule:
    from flask import current_app

    return parse_schedule(job, current_app.config)


# --- slots: the scheduled time a run is for ----------------------------------------------


def latest_slot(schedule: Schedule, now: dt.datetime) -> dt.datetime:
    """The latest scheduled time at or before ``now`` (aware UTC): the time a run started
    by the scheduler is for (with ``coalesce``, one run per slot)."""
    zone = clock.zone()
    local = now.astimezone(zone)
    if schedule.kind == "daily":
        at = dt.datetime.combine(local.date(), dt.time(schedule.hour, schedule.minute), zone)
        if at > local:
            at = dt.datetime.combine(
                local.date() - dt.timedelta(days=1), dt.time(schedule.hour, schedule.minute), zone
            )
        return at.astimezone(dt.UTC)
    if schedule.kind == "yearly":
        for year in range(local.year, local.year - 9, -1):
            try:
                day = dt.date(year, schedule.month, schedule.day)
            except ValueError:  # Feb 29 in a common year: the job does not run that year
                continue
            at = dt.datetime.combine(day, dt.time(schedule.hour, schedule.minute), zone)
            if at <= local:
                return at.astimezone(dt.UTC)
        raise ValueError(f"no slot of {schedule.describe()} before {now}")
    if schedule.kind == "every":
        midnight = dt.datetime.combine(local.date(), dt.time(), zone)
        minutes = int((local - midnight).total_seconds() // 60)
        floor = minutes - minutes % schedule.every_minutes
        return (midnight + dt.timedelta(minutes=floor)).astimezone(dt.UTC)
    return now.replace(second=0, microsecond=0)


def slot_for_day(schedule: Schedule, day: dt.date) -> dt.datetime:
    """The scheduled time of a run by hand for ``day``: the job's time of day on that day;
    for a job that runs every few minutes (or is off), the current slot if ``day`` is
    today, else that day's midnight."""
    if schedule.kind in ("daily", "yearly"):
        at = dt.datetime.combine(day, dt.time(schedule.hour, schedule.minute), clock.zone())
        return at.astimezone(dt.UTC)
    if day == clock.local_today():
        return latest_slot(schedule, clock.now())
    return dt.datetime.combine(day, dt.time(), clock.zone()).astimezone(dt.UTC)


def run_key(name: str, slot: dt.datetime) -> str:
    """``points_expiry@2026-12-07T00:30+08:00``: the job and its scheduled local time."""
    return f"{name}@{clock.to_local(slot).isoformat(timespec='minutes')}"


def lock_id(name: str) -> int:
    """The job's PostgreSQL advisory lock: a signed 64-bit number from its name."""
    digest = hashlib.sha256(f"laoyou.job:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


# --- one run -----------------------------------------------------------------------------


def run_scheduled(name: str) -> RunResult:
    """What the scheduler process calls when a job fires (inside an app context)."""
    job = job_named(name)
    return run_job(job, latest_slot(schedule_of(job), clock.now()), trigger="schedule")


def run_for_day(name: str, day: dt.date | None, *, trigger: str) -> RunResult:
    """A run by hand (``laoyou jobs run``, the panel) for ``day`` (default: today)."""
    job = job_named(name)
    return run_job(job, slot_for_day(schedule_of(job), day or clock.local_today()), trigger=trigger)


def run_job(job: Job, slot: dt.datetime, *, trigger: str) -> RunResult:
    """Run ``job`` for ``slot`` once, whoever else tries; see the module docstring."""
    key = run_key(job.name, slot)
    as_of = clock.to_local(slot).date()
    started = clock.now()
    try:
        with unit_of_work() as session:
            if not _elected(session, job.name):
                raise _Skip("another runner holds this job's lock")
            if session.scalar(select(JobRun.id).where(JobRun.run_key == key)) is not None:
                raise _Skip("already ran for this scheduled time")
            counts = _checked_counts(job, job.func(as_of, key))
            session.add(
                JobRun(
                    job=job.name,
                    scheduled_for=slot,
                    run_key=key,
                    trigger=trigger,
                    outcome="ok",
                    started_at=started,
                    finished_at=clock.now(),
                    counts=counts,
                    host=host_id(),
                )
            )
            session.flush()
    except _Skip as skip:
        return _record_aside(job, slot, key, trigger, started, "skipped", str(skip))
    except IntegrityError:
        # Another runner committed the key between our check and our insert.
        return _record_aside(job, slot, key, trigger, started, "skipped", "already ran (raced)")
    except Exception as exc:
        log.exception("job %s (%s) failed", job.name, key)
        return _record_aside(job, slot, key, trigger, started, "failed", _error_text(exc))
    log.info("job %s (%s) ok: %s", job.name, key, _counts_text(counts))
    return RunResult(job.name, key, "ok", counts, _counts_text(counts))


def _elected(session: Any, name: str) -> bool:
    if session.get_bind().dialect.name != "postgresql":
        return True
    return bool(
        session.scalar(text("SELECT pg_try_advisory_xact_lock(:id)"), {"id": lock_id(name)})
    )


def _checked_counts(job: Job, counts: Any) -> dict[str, int]:
    """A job returns ``{name: int}``; anything else is the job's bug, and fails the run."""
    if not isinstance(counts, dict) or not all(
        isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool)
        for k, v in counts.items()
    ):
        raise TypeError(f"job {job.name} returned {counts!r}, not a dict of whole numbers")
    return dict(sorted(counts.items()))


def _record_aside(
    job: Job,
    slot: dt.datetime,
    key: str,
    trigger: str,
    started: dt.datetime,
    outcome: str,
    message: str,
) -> RunResult:
    """A skipped or failed attempt, in a transaction of its own, without the key."""
    with unit_of_work() as session:
        session.add(
            JobRun(
                job=job.name,
                scheduled_for=slot,
                run_key=None,
                trigger=trigger,
                outcome=outcome,
                started_at=started,
                finished_at=clock.now(),
                counts={},
                error=message[:MAX_ERROR_CHARS],
                host=host_id(),
            )
        )
    if outcome == "skipped":
        log.info("job %s (%s) skipped: %s", job.name, key, message)
    first_line = message.splitlines()[0] if message else ""
    return RunResult(job.name, key, outcome, {}, first_line)


def _error_text(exc: BaseException) -> str:
    """The error's own line first (the panel shows it), then the traceback's tail."""
    head = f"{type(exc).__name__}: {exc}"
    room = MAX_ERROR_CHARS - len(head) - 2
    trace = "".join(traceback.format_exception(exc))
    return (head + "\n\n" + trace[-room:]) if room > 0 else head


def _counts_text(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items()) or "nothing to do"
