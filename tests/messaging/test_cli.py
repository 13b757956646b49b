"""``laoyou outbox dispatch --once`` and ``laoyou outbox list``."""

from __future__ import annotations

import datetime as dt

from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import select

from app import clock
from app.db import db
from app.messaging.models import OutboxMessage
from app.messaging.services import enqueue

MORNING = dt.datetime(2026, 11, 23, 2, 0, tzinfo=dt.UTC)


def test_dispatch_once_sends_what_is_due(app: Flask, runner: FlaskCliRunner) -> None:
    with clock.frozen(MORNING):
        enqueue(address="+8613800138000", body="hello", kind="alert")
        later = MORNING + dt.timedelta(hours=3)
        enqueue(address="+8613800138000", body="later", kind="alert", not_before=later)
        result = runner.invoke(args=["outbox", "dispatch", "--once", "--batch", "5"])
    assert result.exit_code == 0, result.output
    assert "claimed 1, sent 1" in result.output
    db.session.expire_all()
    statuses = dict(db.session.execute(select(OutboxMessage.body, OutboxMessage.status)).all())
    assert statuses == {"hello": "sent", "later": "queued"}


def test_list_masks_numbers(app: Flask, runner: FlaskCliRunner) -> None:
    enqueue(address="+8613800138000", body="hello there", kind="alert")
    result = runner.invoke(args=["outbox", "list"])
    assert result.exit_code == 0, result.output
    assert "+86138****8000" in result.output and "hello there" in result.output
    assert "+8613800138000" not in result.output


def test_dispatch_refuses_a_silly_batch(runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["outbox", "dispatch", "--batch", "0"])
    assert result.exit_code == 2
