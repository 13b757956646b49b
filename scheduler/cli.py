"""``laoyou scheduler`` (the process) and ``laoyou jobs list|run`` (one job by hand)."""

from __future__ import annotations

import datetime as dt
import signal
import sys
from typing import Any

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from app import clock
from app.cli.support import echo_table, local_minute
from app.jobs import parse_schedule, registered_jobs

#: How far from today ``--as-of`` may reach: a typo of the year is refused, not run.
AS_OF_REACH_DAYS = 3660


@click.command("scheduler")
@with_appcontext
def scheduler_command() -> None:
    """Run the scheduled jobs in the foreground until SIGTERM / Ctrl-C (one per deployment)."""
    from app.cli.db import require_migrated
    from app.db import db
    from scheduler.process import build_scheduler

    require_migrated()
    db.session.remove()  # each firing opens its own; none is held while waiting
    scheduler = build_scheduler(current_app._get_current_object(), blocking=True)  # type: ignore[attr-defined]

    def _stop(_signum: int, _frame: Any) -> None:
        # Stop firing; a run in progress finishes (its unit of work commits or rolls back).
        scheduler.shutdown(wait=False)

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    for job in scheduler.get_jobs():
        click.echo(f"  {job.name}")
    click.echo(
        f"scheduler running ({len(scheduler.get_jobs())} jobs, {clock.zone()}); Ctrl-C stops"
    )
    scheduler.start()
    click.echo("scheduler stopped")


@click.group("jobs", cls=AppGroup, help="The scheduled jobs: list them, run one by hand.")
def jobs_group() -> None:
    pass


@jobs_group.command("list")
def list_command() -> None:
    """Each job, its schedule (and the setting that changes it), its last run and outcome."""
    from scheduler.services import last_runs

    last = last_runs()
    rows = []
    for name, job in registered_jobs().items():
        run = last.get(name)
        result = ""
        if run is not None:
            counts = ", ".join(f"{k} {v}" for k, v in run.counts.items())
            result = counts if run.outcome == "ok" else (run.error or "").splitlines()[0][:60]
        rows.append(
            (
                name,
                parse_schedule(job, current_app.config).describe(),
                job.setting,
                local_minute(run.started_at) if run else "never",
                run.outcome if run else "",
                result,
            )
        )
    echo_table(("job", "schedule", "setting", "last run", "outcome", "result"), rows)


@jobs_group.command("run")
@click.argument("name")
@click.option(
    "--as-of",
    "as_of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="The local day to run for (default: today); the run's key is the job's time that day.",
)
def run_command(name: str, as_of: dt.datetime | None) -> None:
    """Run one job now, in its own unit of work; exit 1 if it failed.

    A run whose key (job and scheduled time) already took effect is skipped, exit 0.
    """
    from scheduler.services import run_now

    jobs = registered_jobs()
    if name not in jobs:
        raise click.BadParameter(
            f"no job named {name!r}; jobs: {', '.join(jobs)}", param_hint="NAME"
        )
    day = as_of.date() if as_of is not None else None
    if day is not None and abs((day - clock.local_today()).days) > AS_OF_REACH_DAYS:
        raise click.BadParameter("must be within ten years of today", param_hint="--as-of")
    result = run_now(name, as_of=day, trigger="cli")
    click.echo(f"{name} {result.run_key}: {result.outcome}: {result.message}")
    if result.outcome == "failed":
        sys.exit(1)
