"""The scheduler: the APScheduler process and its job table (``job_run``).

The jobs are the packages' (``app/<package>/jobs.py``, registered in ``app.jobs`` by each
package's ``init_app``); this package runs them and records every run. ``app`` never
imports it: ``create_app`` (the composition root) calls ``init_app`` below, which hands
``app`` what it reads of the scheduler through ``app.extensions``.
"""

from __future__ import annotations

import logging

from flask import Flask


def init_app(app: Flask) -> None:
    import scheduler.models  # noqa: F401  (the job_run table, in Base's metadata)
    from app.jobs import RUN_HISTORY_PURGE, Job, register_job
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
    app.extensions["laoyou.scheduler_start"] = process.start_background
