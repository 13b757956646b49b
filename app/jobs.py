"""The job registry: the work the scheduler runs, registered by the packages that own it.

A job is a plain function ``(as_of: date, run_key: str) -> dict[str, int]`` in its
package's ``jobs.py``: it flushes its effects (never commits) and returns counts (cards
reminded, rows purged…). The package's ``init_app`` registers it here with a name and a
default schedule; nothing is registered by being imported.

The top-level ``scheduler/`` package reads this registry (it builds the APScheduler
process, runs each job in its own unit of work and records the runs); packages of
``app/`` never import ``scheduler``. What the panel and the reports need of the recorded
runs (the runs, their counts, "run now") the scheduler hands over in its ``init_app`` as
``app.extensions["laoyou.job_runs"]``, read through ``job_runs()`` below, as
``laoyou run`` is handed the outbox loop.

A schedule is one of:

* ``HH:MM``: every day at that local time (the programme's ``TIMEZONE``);
* ``MM-DD HH:MM``: every year on that day at that local time;
* ``every N minutes`` (``every_minutes``), in slots counted from local midnight;
* ``off``: not scheduled (``laoyou jobs run`` still runs it).

Each job's time is changed by a setting named after it, ``JOB_<NAME>_AT`` (``HH:MM``,
``MM-DD HH:MM`` or ``off``), or ``JOB_<NAME>_EVERY`` (minutes, or ``off``) for one that
runs every few minutes.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from flask import Flask, current_app

from app.config import ConfigError
from app.i18n import N_

#: ``(as_of, run_key) -> counts``: the local day the run is for, and its key (job and
#: scheduled time), which a job may use as an idempotency key for what it writes.
JobFunc = Callable[[dt.date, str], dict[str, int]]

_NAME = re.compile(r"^[a-z][a-z0-9_]{1,47}$")
_DAILY = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_YEARLY = re.compile(r"^(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01]) ([01]\d|2[0-3]):([0-5]\d)$")
#: The longest interval: a day (a longer one is a daily job).
MAX_EVERY_MINUTES = 1440


@dataclass(frozen=True)
class Job:
    """One registered job: what runs, and when by default."""

    name: str
    func: JobFunc
    #: One line, an English msgid marked with ``N_`` (the panel shows it translated).
    description: str
    #: ``HH:MM`` or ``MM-DD HH:MM`` (local), or None for a job that runs ``every_minutes``.
    at: str | None = None
    every_minutes: int | None = None

    @property
    def setting(self) -> str:
        """The setting that changes this job's schedule."""
        return f"JOB_{self.name.upper()}_" + ("EVERY" if self.every_minutes else "AT")


@dataclass(frozen=True)
class Schedule:
    """A job's schedule once its setting is read: ``kind`` daily, yearly, every or off."""

    kind: str
    hour: int = 0
    minute: int = 0
    month: int = 0
    day: int = 0
    every_minutes: int = 0

    def describe(self) -> str:
        if self.kind == "daily":
            return f"daily {self.hour:02d}:{self.minute:02d}"
        if self.kind == "yearly":
            return f"yearly {self.month:02d}-{self.day:02d} {self.hour:02d}:{self.minute:02d}"
        if self.kind == "every":
            return f"every {self.every_minutes} min"
        return "off"


def parse_schedule(job: Job, config: Mapping[str, Any]) -> Schedule:
    """The job's schedule: its setting if set, else its default. A bad value is a
    ``ConfigError`` naming the setting (the process does not start)."""
    raw = config.get(job.setting)
    text = str(raw).strip() if raw not in (None, "") else None
    if text is not None and text.lower() == "off":
        return Schedule("off")
    if job.every_minutes:
        minutes = job.every_minutes if text is None else _minutes(job.setting, text)
        return Schedule("every", every_minutes=minutes)
    spec = text if text is not None else job.at
    if spec is None:
        return Schedule("off")
    if m := _DAILY.match(spec):
        return Schedule("daily", hour=int(m[1]), minute=int(m[2]))
    if m := _YEARLY.match(spec):
        month, day = int(m[1]), int(m[2])
        try:
            dt.date(2024, month, day)  # a leap year: 02-29 is a day, 02-30 is not
        except ValueError:
            raise ConfigError(f"{job.setting}: {spec!r} is not a day of the year") from None
        return Schedule("yearly", hour=int(m[3]), minute=int(m[4]), month=month, day=day)
    raise ConfigError(f"{job.setting} must be HH:MM, MM-DD HH:MM or off, got {spec!r}")


def _minutes(setting: str, text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= MAX_EVERY_MINUTES:
        raise ConfigError(f"{setting} must be minutes from 1 to {MAX_EVERY_MINUTES} or off")
    return int(text)


#: The description of the scheduler's own job (``run_history_purge``): ``scheduler/`` is
#: outside the catalogs' extraction (``app`` and ``templates``), so its msgid lives here.
RUN_HISTORY_PURGE = N_("Delete recorded job runs older than JOB_RUNS_KEEP_DAYS")


def register_job(app: Flask, job: Job) -> None:
    """Called from the owning package's ``init_app``; a name is registered once."""
    if not _NAME.match(job.name):
        raise ValueError(f"job name {job.name!r}: lower case letters, digits and _")
    if (job.at is None) == (job.every_minutes is None):
        raise ValueError(f"job {job.name}: give either at or every_minutes")
    jobs = app.extensions.setdefault("laoyou.jobs", {})
    if job.name in jobs and jobs[job.name] != job:
        raise ValueError(f"job {job.name!r} is registered twice")
    parse_schedule(job, app.config)
    jobs[job.name] = job


def registered_jobs(app: Flask | None = None) -> dict[str, Job]:
    """Every job of the app, by name, in the order registered."""
    target = app if app is not None else current_app
    return dict(target.extensions.get("laoyou.jobs", {}))


# --- what the scheduler hands over --------------------------------------------------------


@dataclass(frozen=True)
class RunRecord:
    """One recorded run of a job, as the panel shows it."""

    id: int
    job: str
    scheduled_for: dt.datetime
    #: The run key (job and scheduled time); None unless this run took effect (``ok``).
    run_key: str | None
    trigger: str
    outcome: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    counts: dict[str, int] = field(default_factory=dict)
    error: str | None = None
    host: str = ""


@dataclass(frozen=True)
class RunCount:
    """Per job and outcome: how many runs, and when the last of them finished."""

    job: str
    outcome: str
    count: int
    last_finished_at: dt.datetime | None


@dataclass(frozen=True)
class RunResult:
    """What one attempt to run a job did: ``ok``, ``failed`` or ``skipped``, and why."""

    job: str
    run_key: str
    outcome: str
    counts: dict[str, int]
    message: str


class JobRuns(Protocol):
    """The scheduler's services that ``app`` reads (the panel, the reports)."""

    def recent_runs(self, job: str | None = None, limit: int = 50) -> list[RunRecord]: ...

    def run_counts(self) -> list[RunCount]: ...

    def last_runs(self) -> dict[str, RunRecord]: ...

    def run_now(self, name: str, *, as_of: dt.date | None = None, trigger: str) -> RunResult: ...


def job_runs() -> JobRuns:
    """The recorded runs; a ``LookupError`` when the app was built without the scheduler."""
    runs = current_app.extensions.get("laoyou.job_runs")
    if runs is None:
        raise LookupError("the scheduler is not wired into this app (scheduler.init_app)")
    return runs  # type: ignore[no-any-return]
