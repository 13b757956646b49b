"""The scheduler: the APScheduler process and its job table (``job_run``).

The jobs are the packages' (``app/<package>/jobs.py``, registered in ``app.jobs`` by each
package's ``init_app``); this package runs them and records every run. ``app`` never
imports it: ``create_app`` (the composition root) calls ``init_app`` below, which hands
``app`` what it reads of the scheduler through ``app.extensions``.
"""

from __future__ import annotations

import datetime as dt
import logging

from flask import Flask


def init_app(app: Flask) -> None:
    import scheduler.models  # noqa: F401  (the job_run table, in Base's metadata)
    from app.jobs import RUN_HISTORY_PURGE, Job, register_job
    from app.ops import provide_job_runs
    from scheduler import process, services
    from scheduler.cli import jobs_group, scheduler_command

    register_job(
        app,
        Job(
            "run_history_purge",
            services.purge_runs,
            RUN_HISTORY_PURGE,
            at="04:20",
        ),
    )
    # The runner logs each run; APScheduler's own lines (every job added, every run) are noise.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    app.cli.add_command(scheduler_command)
    app.cli.add_command(jobs_group)
    # The panel and the reports read the runs; ``laoyou run --with-scheduler`` starts it.
    app.extensions["laoyou.job_runs"] = services
    # /metrics reads the runs at each scrape (laoyou_job_runs_total and the last finish).
    provide_job_runs(app, _runs_for_metrics)
    app.extensions["laoyou.scheduler_start"] = process.start_background


def _runs_for_metrics() -> list[tuple[str, str, int, dt.datetime | None]]:
    from scheduler.services import run_counts

    # SQLite gives the times back naive (they are UTC): made aware for the Unix time.
    return [(r.job, r.outcome, r.count, _aware(r.last_finished_at)) for r in run_counts()]


def _aware(moment: dt.datetime | None) -> dt.datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=dt.UTC)
