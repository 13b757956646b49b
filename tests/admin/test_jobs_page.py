"""The panel's Jobs page: each job's schedule and last run, the recent runs, "run now"."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Flask
from sqlalchemy import select

from app.audit.models import AuditEntry
from app.db import db
from app.jobs import Job, register_job
from scheduler.models import JobRun


def _rows(page: str, table: str) -> str:
    return page.split(f'<table id="{table}"')[1].split("</table>")[0]


def test_an_admin_sees_every_job_and_runs_one_now(app: Flask, signed_in: Any) -> None:
    admin = signed_in("admin", language="en")
    page = admin.get("/admin/jobs")
    assert page.status_code == 200
    jobs = _rows(page.text, "jobs")
    assert 'data-job="points_expiry"' in jobs and "Every day at 00:30" in jobs
    assert "Every year on 01-01 at 03:00" in jobs and "Every 5 minutes" in jobs
    assert "JOB_POINTS_EXPIRY_AT" in jobs
    assert "No runs yet." in _rows(page.text, "runs")

    ran = admin.post("/admin/jobs/ledger_check/run", {"as_of": "2026-12-07"})
    assert ran.status_code == 302 and ran.location.endswith("/admin/jobs?ran=ledger_check")
    after = admin.get("/admin/jobs?ran=ledger_check").text
    assert 'data-outcome="ok"' in after.split("</h1>")[1].split("<table")[0]
    runs = _rows(after, "runs")
    assert runs.count("<tr ") == 1
    assert "2026-12-07 02:00" in runs and "accounts" in runs
    (row,) = db.session.scalars(select(JobRun))
    assert (row.trigger, row.run_key) == ("panel", "ledger_check@2026-12-07T02:00+08:00")
    (entry,) = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "job.run"))
    assert entry.actor == admin.username and entry.object_id == "ledger_check"

    # The same day again is skipped, and shown so.
    admin.post("/admin/jobs/ledger_check/run", {"as_of": "2026-12-07"})
    again = admin.get("/admin/jobs?ran=ledger_check").text
    assert 'data-outcome="skipped"' in again.split("</h1>")[1].split("<table")[0]


def test_a_failed_run_shows_its_error(app: Flask, signed_in: Any) -> None:
    def broken(as_of: dt.date, key: str) -> dict[str, int]:
        raise RuntimeError("disk full <b>")

    register_job(app, Job("broken_job", broken, "A job of the tests", at="03:00"))
    admin = signed_in("admin")
    admin.post("/admin/jobs/broken_job/run", {})
    page = admin.get("/admin/jobs?job=broken_job").text
    runs = _rows(page, "runs")
    assert 'data-outcome="failed"' in runs
    assert "<summary>RuntimeError: disk full &lt;b&gt;</summary>" in runs  # escaped
    assert "Traceback" in runs


def test_bad_input_is_refused_and_runs_nothing(app: Flask, signed_in: Any) -> None:
    admin = signed_in("admin")
    for as_of in ("2026-02-30", "tomorrow", "1900-01-01", "2026-12-07\x00"):
        response = admin.post("/admin/jobs/points_expiry/run", {"as_of": as_of})
        assert response.status_code == 400, as_of
    assert admin.post("/admin/jobs/no_such_job/run", {}).status_code == 404
    assert admin.get("/admin/jobs?job=no_such_job").status_code == 404
    assert db.session.scalars(select(JobRun)).all() == []


def test_only_those_with_the_permission_see_or_run_jobs(app: Flask, signed_in: Any) -> None:
    marketer = signed_in("marketer")
    assert marketer.get("/admin/jobs").status_code == 403
    assert marketer.post("/admin/jobs/points_expiry/run", {}).status_code == 403
    assert "/admin/jobs" not in marketer.get("/admin/").text
    assert db.session.scalars(select(JobRun)).all() == []
    admin = signed_in("admin")
    assert "/admin/jobs" in admin.get("/admin/").text
