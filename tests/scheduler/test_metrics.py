"""The scheduler's runs reach /metrics: a run recorded is a sample of laoyou_job_runs_total."""

from __future__ import annotations

import datetime as dt

from flask.testing import FlaskClient

from scheduler.services import run_now
from tests.ops.test_health_and_metrics import scrape


def test_a_recorded_run_is_counted_on_the_metrics_page(client: FlaskClient) -> None:
    runs = "laoyou_job_runs_total"
    key = (runs, (("job", "ledger_check"), ("outcome", "ok")))
    assert key not in scrape(client)

    run_now("ledger_check", as_of=dt.date(2026, 12, 1), trigger="cli")
    run_now("ledger_check", as_of=dt.date(2026, 12, 2), trigger="cli")
    run_now("ledger_check", as_of=dt.date(2026, 12, 2), trigger="cli")  # skipped: same key

    figures = scrape(client)
    assert figures[key] == 2
    assert figures[(runs, (("job", "ledger_check"), ("outcome", "skipped")))] == 1
    finished = figures[
        ("laoyou_job_last_finished_timestamp_seconds", (("job", "ledger_check"), ("outcome", "ok")))
    ]
    assert abs(finished - dt.datetime.now(dt.UTC).timestamp()) < 600  # a UTC instant, not local
