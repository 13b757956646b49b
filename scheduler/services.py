"""The recorded runs, read by the panel, ``laoyou jobs list`` and the reports.

``scheduler.init_app`` hands this module to ``app`` as ``app.extensions["laoyou.job_runs"]``
(``app.jobs.job_runs()``): it has the ``app.jobs.JobRuns`` functions.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, func, select

from app import clock
from app.db import db
from app.jobs import RunCount, RunRecord, RunResult
from scheduler.models import TRIGGERS, JobRun
from scheduler.runner import run_for_day

#: The most runs one listing returns.
MAX_RUNS = 500


def _record(row: JobRun) -> RunRecord:
    return RunRecord(
        id=row.id,
        job=row.job,
        scheduled_for=row.scheduled_for,
        run_key=row.run_key,
        trigger=row.trigger,
        outcome=row.outcome,
        started_at=row.started_at,
        finished_at=row.finished_at,
        counts={str(k): int(v) for k, v in (row.counts or {}).items()},
        error=row.error,
        host=row.host,
    )


def recent_runs(job: str | None = None, limit: int = 50) -> list[RunRecord]:
    """The newest runs first, of one job or of all."""
    query = select(JobRun).order_by(JobRun.started_at.desc(), JobRun.id.desc())
    if job is not None:
        query = query.where(JobRun.job == job)
    rows = db.session.scalars(query.limit(max(1, min(limit, MAX_RUNS))))
    return [_record(r) for r in rows]


def last_runs() -> dict[str, RunRecord]:
    """Each job's latest run (whatever its outcome)."""
    latest = select(JobRun.job, func.max(JobRun.id).label("id")).group_by(JobRun.job).subquery()
    rows = db.session.scalars(select(JobRun).join(latest, latest.c.id == JobRun.id))
    return {r.job: _record(r) for r in rows}


def run_counts() -> list[RunCount]:
    """Per job and outcome: how many runs are recorded, and when the last one finished."""
    rows = db.session.execute(
        select(JobRun.job, JobRun.outcome, func.count(), func.max(JobRun.finished_at))
        .group_by(JobRun.job, JobRun.outcome)
        .order_by(JobRun.job, JobRun.outcome)
    ).all()
    return [RunCount(job, outcome, int(n), last) for job, outcome, n, last in rows]


def run_now(name: str, *, as_of: dt.date | None = None, trigger: str) -> RunResult:
    """Run a job by hand for ``as_of`` (default today) in its own unit of work.

    Raises ``scheduler.runner.UnknownJob`` for a name no package registered.
    """
    if trigger not in TRIGGERS:
        raise ValueError(f"trigger must be one of {TRIGGERS}")
    return run_for_day(name, as_of, trigger=trigger)


def purge_runs(as_of: dt.date, run_key: str) -> dict[str, int]:
    """The scheduler's own job: runs older than ``JOB_RUNS_KEEP_DAYS`` are deleted."""
    from flask import current_app

    days = int(current_app.config["JOB_RUNS_KEEP_DAYS"])
    cutoff = dt.datetime.combine(as_of - dt.timedelta(days=days), dt.time(), clock.zone())
    result = db.session.execute(delete(JobRun).where(JobRun.started_at < cutoff))
    return {"runs": int(result.rowcount or 0)}  # type: ignore[attr-defined]
