"""The scheduler's one table: every attempt to run a job, and what came of it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, utcnow

OUTCOMES = ("ok", "failed", "skipped")
#: Who started a run: the scheduler process, ``laoyou jobs run``, the panel's button.
TRIGGERS = ("schedule", "cli", "panel")


class JobRun(Base):
    """One attempt to run a job for one scheduled time.

    ``run_key`` (the job's name and scheduled time) is unique and is written only by the
    run that took effect, in the same transaction as its effects: a second attempt with
    the same key finds it and is recorded ``skipped`` (key empty), and a ``failed``
    attempt (key empty, its effects rolled back) leaves the key free for a retry.
    """

    __tablename__ = "job_run"
    __table_args__ = (
        CheckConstraint("outcome IN ('ok', 'failed', 'skipped')", name="outcome"),
        CheckConstraint("trigger IN ('schedule', 'cli', 'panel')", name="trigger"),
        # The panel and ``laoyou jobs list``: a job's latest runs.
        Index("ix_job_run_job_started_at", "job", "started_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(String(48))
    #: The time the run is for (aware UTC); its local date is the job's ``as_of``.
    scheduled_for: Mapped[dt.datetime]
    #: ``<job>@<scheduled time, local ISO>``; set only on the run that took effect.
    run_key: Mapped[str | None] = mapped_column(String(120), unique=True)
    trigger: Mapped[str] = mapped_column(String(16))
    outcome: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[dt.datetime | None]
    #: What the job reported, e.g. ``{"cards": 12, "points": 3400}``.
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: Why it failed (the exception, its traceback's last lines) or why it was skipped.
    error: Mapped[str | None] = mapped_column(Text)
    #: ``host:pid`` of the process that ran it.
    host: Mapped[str] = mapped_column(String(120), default="")
