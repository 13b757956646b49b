"""``laoyou jobs list`` and ``laoyou jobs run NAME [--as-of]``: output and exit statuses."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Flask

from app import clock
from tests.scheduler.conftest import outcomes

SHANGHAI = dt.timezone(dt.timedelta(hours=8))


def test_jobs_list_names_every_job_its_schedule_setting_and_last_run(
    app: Flask, runner: Any
) -> None:
    before = runner.invoke(args=["jobs", "list"])
    assert before.exit_code == 0, before.output
    lines = before.output.splitlines()
    assert lines[0].split() == ["job", "schedule", "setting", "last", "run", "outcome", "result"]
    expiry = next(line for line in lines if line.startswith("points_expiry "))
    assert expiry.split() == ["points_expiry", "daily", "00:30", "JOB_POINTS_EXPIRY_AT", "never"]
    assert any(line.split()[:4] == ["outbox_sweep", "every", "5", "min"] for line in lines)

    with clock.frozen(dt.datetime(2026, 12, 7, 9, 5, tzinfo=SHANGHAI)):
        runner.invoke(args=["jobs", "run", "points_expiry"])
    after = runner.invoke(args=["jobs", "list"]).output
    expiry = next(line for line in after.splitlines() if line.startswith("points_expiry "))
    assert "2026-12-07 09:05  ok" in expiry
    assert "already_done 0, cards 0, lots 0, points 0" in expiry


def test_jobs_run_ok_then_skipped_both_exit_0(app: Flask, runner: Any) -> None:
    first = runner.invoke(args=["jobs", "run", "ledger_check", "--as-of", "2026-12-07"])
    assert first.exit_code == 0, first.output
    assert first.output.startswith("ledger_check ledger_check@2026-12-07T02:00+08:00: ok: ")
    again = runner.invoke(args=["jobs", "run", "ledger_check", "--as-of", "2026-12-07"])
    assert again.exit_code == 0
    assert again.output == (
        "ledger_check ledger_check@2026-12-07T02:00+08:00: skipped: "
        "already ran for this scheduled time\n"
    )
    assert outcomes("ledger_check") == ["ok", "skipped"]


def test_jobs_run_exits_1_when_the_job_failed(app: Flask, runner: Any, test_job: Any) -> None:
    def broken(as_of: dt.date, key: str) -> dict[str, int]:
        raise ValueError("no such table")

    test_job(broken)
    result = runner.invoke(args=["jobs", "run", "test_job", "--as-of", "2026-12-07"])
    assert result.exit_code == 1
    assert result.output == (
        "test_job test_job@2026-12-07T03:00+08:00: failed: ValueError: no such table\n"
    )
    assert outcomes("test_job") == ["failed"]


def test_jobs_run_refuses_bad_input_and_runs_nothing(app: Flask, runner: Any) -> None:
    unknown = runner.invoke(args=["jobs", "run", "no_such_job"])
    assert unknown.exit_code == 2 and "no job named 'no_such_job'" in unknown.output
    for bad in ("2026-02-30", "2026-12-07\x00", "20261207", "9999-12-31", "1900-01-01"):
        result = runner.invoke(args=["jobs", "run", "points_expiry", "--as-of", bad])
        assert result.exit_code == 2, (bad, result.output)
    assert outcomes("points_expiry") == []
