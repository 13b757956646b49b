"""``GET /healthz`` and ``GET /metrics`` as a load balancer and Prometheus read them."""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update

from app import clock, create_app
from app.config import ConfigError
from app.db import db
from app.messaging.models import OutboxMessage
from app.messaging.services import enqueue
from app.ops import provide_job_runs

NOW = dt.datetime(2026, 12, 7, 8, 0, tzinfo=dt.UTC)
TOKEN = "scrape-token-0123456789"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of an exposition, keyed by (name, sorted labels)."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def scrape(client: FlaskClient, **kw: Any) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics", **kw)
    assert response.status_code == 200, response.text
    return samples(response.text)


def requests_of(figures: dict[Any, float], endpoint: str, status: str) -> float:
    key = (
        "laoyou_http_requests_total",
        (("endpoint", endpoint), ("method", "GET"), ("status", status)),
    )
    return figures.get(key, 0.0)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def unreachable_app(tmp_path: Path, **extra: Any) -> Flask:
    """An app whose PostgreSQL is a port nobody listens on (the password must never show)."""
    return create_app(
        {
            "LAOYOU_ENV": "testing",
            "SECRET_KEY": "test-secret-key-that-is-long-enough-000",
            "DATABASE_URL": f"postgresql://laoyou:s3cret-pw@127.0.0.1:{closed_port()}/laoyou",
            **extra,
        }
    )


# --- /healthz ---------------------------------------------------------------------------


def test_healthz_is_ok_when_the_database_answers(client: FlaskClient) -> None:
    # On SQLite the test's own transaction holds the write lock all along: the health
    # check reads outside any transaction, so it does not wait out the busy timeout.
    started = time.perf_counter()
    response = client.get("/healthz")
    assert time.perf_counter() - started < 5

    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": "ok"}
    assert "Set-Cookie" not in response.headers
    assert response.headers["Cache-Control"] == "no-store"


def test_healthz_is_503_without_a_trace_or_the_dsn_when_the_database_is_down(
    tmp_path: Path,
) -> None:
    client = unreachable_app(tmp_path).test_client()

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json == {"status": "unavailable", "database": "unreachable"}
    for leak in ("s3cret", "laoyou:", "127.0.0.1", "Traceback", "OperationalError"):
        assert leak not in response.text


# --- /metrics: requests -----------------------------------------------------------------


def test_requests_are_counted_by_endpoint_name_and_status_never_by_path(
    client: FlaskClient,
) -> None:
    client.get("/healthz")
    client.get("/healthz")
    for n in range(5):
        client.get(f"/no/such/page/{n}")  # five paths, one series

    figures = scrape(client)

    assert requests_of(figures, "ops.healthz", "200") == 2
    assert requests_of(figures, "unmatched", "404") == 5
    names = {labels for (name, labels) in figures if name == "laoyou_http_requests_total"}
    assert not any("/no/such" in value for labels in names for _key, value in labels)
    latency = (
        "laoyou_http_request_duration_seconds_count",
        (("endpoint", "ops.healthz"), ("method", "GET"), ("status", "200")),
    )
    assert figures[latency] == 2


def test_an_odd_method_is_counted_as_other(client: FlaskClient) -> None:
    client.open("/healthz", method="BREW")

    figures = scrape(client)

    key = (
        "laoyou_http_requests_total",
        (("endpoint", "unmatched"), ("method", "other"), ("status", "405")),
    )
    assert figures[key] == 1


# --- /metrics: the outbox and the dispatcher's lag --------------------------------------


def test_outbox_depth_by_status_and_the_dispatcher_lag(client: FlaskClient) -> None:
    with clock.frozen(NOW - dt.timedelta(minutes=10)):
        enqueue(address="+8613900000001", body="a", kind="system")  # due 10 minutes ago
    with clock.frozen(NOW - dt.timedelta(minutes=2)):
        enqueue(address="+8613900000002", body="b", kind="system")  # due 2 minutes ago
        sent = enqueue(address="+8613900000003", body="c", kind="system")
    enqueue(
        address="+8613900000004",
        body="d",
        kind="marketing",
        not_before=NOW + dt.timedelta(hours=1),  # not due yet: no lag
    )
    db.session.execute(update(OutboxMessage).where(OutboxMessage.id == sent).values(status="sent"))
    db.session.flush()

    with clock.frozen(NOW):
        figures = scrape(client)

    depth = {
        dict(labels)["status"]: value
        for (name, labels), value in figures.items()
        if name == "laoyou_outbox_messages"
    }
    assert depth == {
        "queued": 3,
        "sending": 0,
        "sent": 1,
        "delivered": 0,
        "undelivered": 0,
        "failed": 0,
        "suppressed": 0,
    }
    assert figures[("laoyou_outbox_dispatch_lag_seconds", ())] == 600
    assert figures[("laoyou_database_up", ())] == 1


def test_no_lag_when_nothing_is_due(client: FlaskClient) -> None:
    enqueue(address="+8613900000001", body="a", kind="system", not_before=NOW)

    with clock.frozen(NOW - dt.timedelta(seconds=1)):
        figures = scrape(client)

    assert figures[("laoyou_outbox_dispatch_lag_seconds", ())] == 0


def test_metrics_still_answer_when_the_database_is_down(tmp_path: Path) -> None:
    client = unreachable_app(tmp_path).test_client()
    client.get("/healthz")

    figures = scrape(client)

    assert figures[("laoyou_database_up", ())] == 0
    assert requests_of(figures, "ops.healthz", "503") == 1
    assert not any(name == "laoyou_outbox_messages" for name, _ in figures)


# --- /metrics: job runs (the scheduler's seam) -----------------------------------------


def test_job_runs_come_from_the_source_the_scheduler_provides(
    app: Flask, client: FlaskClient
) -> None:
    before = client.get("/metrics").text
    assert "# TYPE laoyou_job_runs_total counter" in before  # declared, empty until a source
    assert "laoyou_job_runs_total{" not in before

    finished = dt.datetime(2026, 12, 7, 3, 0, tzinfo=dt.UTC)
    provide_job_runs(
        app,
        lambda: [
            ("points_expiry", "success", 3, finished),
            ("points_expiry", "error", 1, 1_796_000_000.5),
            ("birthday_greetings", "success", 0, None),
        ],
    )
    figures = scrape(client)

    runs = "laoyou_job_runs_total"
    last = "laoyou_job_last_finished_timestamp_seconds"
    assert figures[(runs, (("job", "points_expiry"), ("outcome", "success")))] == 3
    assert figures[(runs, (("job", "points_expiry"), ("outcome", "error")))] == 1
    assert figures[(runs, (("job", "birthday_greetings"), ("outcome", "success")))] == 0
    assert figures[(last, (("job", "points_expiry"), ("outcome", "success")))] == (
        finished.timestamp()
    )
    assert figures[(last, (("job", "points_expiry"), ("outcome", "error")))] == 1_796_000_000.5
    assert (last, (("job", "birthday_greetings"), ("outcome", "success"))) not in figures


def test_a_failing_job_source_costs_only_the_job_figures(app: Flask, client: FlaskClient) -> None:
    def broken() -> list[Any]:
        raise RuntimeError("scheduler table missing")

    provide_job_runs(app, broken)

    figures = scrape(client)

    assert figures[("laoyou_database_up", ())] == 1
    assert not any(name == "laoyou_job_runs_total" for name, _ in figures)


# --- /metrics: who may scrape -----------------------------------------------------------


def test_without_a_token_only_a_direct_local_scraper_is_answered(client: FlaskClient) -> None:
    assert client.get("/metrics").status_code == 200
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "::1"}).status_code == 200

    remote = client.get("/metrics", environ_base={"REMOTE_ADDR": "10.0.0.5"})
    proxied = client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})

    assert remote.status_code == 403
    assert proxied.status_code == 403
    assert "METRICS_TOKEN" in remote.text
    assert "laoyou_" not in remote.text + proxied.text


@pytest.mark.parametrize("app_config", [{"METRICS_TOKEN": TOKEN}])
def test_with_a_token_the_bearer_is_required_from_anywhere(client: FlaskClient) -> None:
    missing = client.get("/metrics")
    wrong = client.get("/metrics", headers={"Authorization": "Bearer " + TOKEN[:-1] + "x"})
    basic = client.get("/metrics", headers={"Authorization": "Basic " + TOKEN})
    right = client.get(
        "/metrics",
        headers={"Authorization": f"Bearer {TOKEN}", "X-Forwarded-For": "203.0.113.9"},
        environ_base={"REMOTE_ADDR": "10.0.0.5"},
    )

    for refused in (missing, wrong, basic):
        assert refused.status_code == 401
        assert refused.headers["WWW-Authenticate"] == 'Bearer realm="metrics"'
        assert "laoyou_" not in refused.text
    assert right.status_code == 200
    assert "laoyou_http_requests_total" in right.text


@pytest.mark.parametrize("token", ["short", "sixteen chars here", "令牌" * 10])
def test_a_weak_or_unsendable_token_stops_the_start(token: str) -> None:
    with pytest.raises(ConfigError, match="METRICS_TOKEN"):
        create_app(
            {
                "LAOYOU_ENV": "testing",
                "SECRET_KEY": "test-secret-key-that-is-long-enough-000",
                "DATABASE_URL": "sqlite://",
                "METRICS_TOKEN": token,
            }
        )


def test_openmetrics_is_served_to_a_scraper_that_asks_for_it(client: FlaskClient) -> None:
    response = client.get("/metrics", headers={"Accept": "application/openmetrics-text"})

    assert response.status_code == 200
    assert response.content_type.startswith("application/openmetrics-text")
    assert response.text.endswith("# EOF\n")


# --- several processes (gunicorn workers) ------------------------------------------------

WORKER = textwrap.dedent(
    """
    import sys
    from app import create_app

    app = create_app({
        "LAOYOU_ENV": "testing",
        "SECRET_KEY": "test-secret-key-that-is-long-enough-000",
        "DATABASE_URL": "sqlite:///" + sys.argv[1],
    })
    client = app.test_client()
    for _ in range(int(sys.argv[2])):
        assert client.get("/healthz").status_code == 200
    if sys.argv[3] == "scrape":
        sys.stdout.write(client.get("/metrics").text)
    """
)


def test_with_a_multiprocess_directory_every_worker_is_counted(tmp_path: Path) -> None:
    shared = tmp_path / "prometheus"
    shared.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(shared)}
    env.pop("DATABASE_URL", None)
    database = str(tmp_path / "ops.sqlite3")

    def worker(requests: int, then: str) -> str:
        done = subprocess.run(
            [sys.executable, "-c", WORKER, database, str(requests), then],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            cwd=tmp_path,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    worker(3, "exit")  # one worker answers three health checks and ends
    figures = samples(worker(2, "scrape"))  # another answers two and is scraped

    assert requests_of(figures, "ops.healthz", "200") == 5
