"""The scheduled jobs (``jobs.view``): each job's schedule and last run, the recent runs,
and "run now" (``jobs.run``, POST with CSRF), which runs the job as ``laoyou jobs run``
does, in its own unit of work, recorded with the trigger ``panel``.

The runs are the scheduler's (``job_run``); the panel reads them through
``app.jobs.job_runs()``, never by importing ``scheduler``.
"""

from __future__ import annotations

import datetime as dt

from flask import abort, current_app, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from app import clock
from app.admin.guard import requires
from app.audit.services import record
from app.i18n import gettext
from app.jobs import Schedule, job_runs, parse_schedule, registered_jobs

#: Runs listed on the page.
RECENT_RUNS = 50
#: How far from today a run by hand may be dated (as ``laoyou jobs run --as-of``).
AS_OF_REACH_DAYS = 3660


def schedule_label(schedule: Schedule) -> str:
    time = f"{schedule.hour:02d}:{schedule.minute:02d}"
    if schedule.kind == "daily":
        return gettext("Every day at %(time)s", time=time)
    if schedule.kind == "yearly":
        day = f"{schedule.month:02d}-{schedule.day:02d}"
        return gettext("Every year on %(day)s at %(time)s", day=day, time=time)
    if schedule.kind == "every":
        return gettext("Every %(minutes)s minutes", minutes=schedule.every_minutes)
    return gettext("Off")


def outcome_labels() -> dict[str, str]:
    return {"ok": gettext("OK"), "failed": gettext("Failed"), "skipped": gettext("Skipped")}


def trigger_labels() -> dict[str, str]:
    return {
        "schedule": gettext("Scheduler"),
        "cli": gettext("Command line"),
        "panel": gettext("Admin panel"),
    }


def _page(error: str | None = None) -> str:
    jobs = registered_jobs()
    only = request.args.get("job") or None
    if only is not None and only not in jobs:
        abort(404)
    runs = job_runs()
    ran = request.args.get("ran")
    last = runs.last_runs()
    return render_template(
        "admin/jobs.html",
        jobs=[
            (job, schedule_label(parse_schedule(job, current_app.config)), last.get(name))
            for name, job in jobs.items()
        ],
        runs=runs.recent_runs(only, RECENT_RUNS),
        only=only,
        ran=last.get(ran) if ran in jobs else None,
        error=error,
        today=clock.local_today().isoformat(),
        outcome_labels=outcome_labels(),
        trigger_labels=trigger_labels(),
    )


@requires("jobs.view")
def jobs_page() -> str:
    return _page()


@requires("jobs.run")
def job_run(name: str) -> Response | tuple[str, int]:
    if name not in registered_jobs():
        abort(404)
    text = request.form.get("as_of", "").strip()[:32]
    day: dt.date | None = None
    if text:
        try:
            day = dt.date.fromisoformat(text)
        except ValueError:
            return _page(gettext("The date must be YYYY-MM-DD.")), 400
        if abs((day - clock.local_today()).days) > AS_OF_REACH_DAYS:
            return _page(gettext("The date must be within ten years of today.")), 400
    result = job_runs().run_now(name, as_of=day, trigger="panel")
    record(
        "job.run",
        "job",
        name,
        after={"run_key": result.run_key, "outcome": result.outcome, "counts": result.counts},
    )
    return redirect(url_for("admin.jobs", ran=name))
