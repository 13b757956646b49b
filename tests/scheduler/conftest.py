"""Fixtures of the scheduler tests: a member's card holding points, a job registered for a test."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from app.db import db
from app.jobs import Job, register_job
from scheduler.models import JobRun


def runs(job: str | None = None) -> list[JobRun]:
    query = select(JobRun).order_by(JobRun.id)
    if job is not None:
        query = query.where(JobRun.job == job)
    return list(db.session.scalars(query))


def outcomes(job: str) -> list[str]:
    return [r.outcome for r in runs(job)]


def count(model: Any, *where: Any) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where)) or 0


@pytest.fixture
def points_card(app: Flask, make_member: Callable[..., Any]) -> Callable[..., Any]:
    """``points_card(100, expires_on)``: a new member's card holding those points."""
    from app.cards.services import member_cards
    from app.ledger import journal

    counter = iter(range(1_000))

    def make(points: int, expires_on: dt.date | None, **fields: Any) -> Any:
        member = make_member(**fields)
        card = member_cards(member)[0]
        journal.credit_points(
            card, points, kind="gift", key=f"test-gift-{next(counter)}", expires_on=expires_on
        )
        db.session.flush()
        return card

    return make


@pytest.fixture
def test_job(app: Flask) -> Callable[..., Job]:
    """``test_job(func)``: register ``func`` as the job ``test_job`` (daily 03:00)."""

    def register(func: Callable[[dt.date, str], dict[str, int]], name: str = "test_job") -> Job:
        job = Job(name, func, "A job of the tests", at="03:00")
        register_job(app, job)
        return job

    return register
