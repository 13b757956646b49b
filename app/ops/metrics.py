"""``GET /metrics``: Prometheus figures through ``prometheus_client``.

Two kinds of figure:

- **Per request**, counted where the request is served: ``laoyou_http_requests_total``
  and ``laoyou_http_request_duration_seconds`` by method, endpoint and status. The label
  is the endpoint's *name* (``api_cards.get_card``), never the raw path, so a scanner
  trying a million URLs adds one series (``unmatched``), not a million. A WSGI wrapper
  measures them, so the time includes the request's commit and a failed request is
  counted as the 500 it became.
- **Read from the database when scraped**, by ``OpsCollector``: the outbox's depth by
  status, the dispatcher's lag and the scheduler's job runs. Computed at scrape time,
  so no thread polls the database and every worker answers the same.

Several processes (gunicorn workers): with ``PROMETHEUS_MULTIPROC_DIR`` set in the
environment *before the process starts*, ``prometheus_client`` keeps each worker's
request figures in files there and a scrape of any worker sums them all
(``MultiProcessCollector``). Without it each worker counts only its own requests, which
is right for one process (``laoyou run``) and wrong behind gunicorn with several.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app, has_app_context, request, request_started
from prometheus_client import CollectorRegistry, Counter, Histogram, multiprocess
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError

from app import clock
from app.db import db

log = logging.getLogger(__name__)

#: One job's runs as the scheduler reports them: (job, outcome, runs, last finished as a
#: Unix time or an aware datetime, or None).
JobRun = tuple[str, str, int, "float | dt.datetime | None"]
JobRunsSource = Callable[[], Iterable[JobRun]]

#: ``app.extensions`` keys: this package's state, and the scheduler's job-runs source.
STATE = "laoyou.ops.metrics"
JOB_RUNS = "laoyou.ops.job_runs_source"
#: Where the endpoint's name waits in the WSGI environ for the wrapper to read it.
ENDPOINT_KEY = "laoyou.endpoint"
UNMATCHED = "unmatched"
#: Any other method (a client may send any token) is counted as ``other``.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def provide_job_runs(app: Flask, source: JobRunsSource) -> None:
    """The scheduler's seam: ``source()`` returns every job's runs, called at each scrape.

    Until a source is provided, ``laoyou_job_runs_total`` is declared with no series.
    """
    app.extensions[JOB_RUNS] = source


@dataclass
class _State:
    requests: Counter
    latency: Histogram
    #: Single process: the registry every scrape reads. Multi-process: None (built per scrape).
    registry: CollectorRegistry | None


def install(app: Flask) -> None:
    # The library's own test (``prometheus_client.values``), made when it was imported.
    multi = "PROMETHEUS_MULTIPROC_DIR" in os.environ or "prometheus_multiproc_dir" in os.environ
    # Multi-process mode keeps the figures in files, not in a registry: the per-app
    # registry of one process would count only that process.
    registry = None if multi else CollectorRegistry()
    labels = ("method", "endpoint", "status")
    state = _State(
        requests=Counter(
            "laoyou_http_requests",
            "HTTP requests answered, by method, endpoint name and status.",
            labels,
            registry=registry,
        ),
        latency=Histogram(
            "laoyou_http_request_duration_seconds",
            "Time to answer an HTTP request (view and commit), by method, endpoint and status.",
            labels,
            registry=registry,
        ),
        registry=registry,
    )
    if registry is not None:
        registry.register(OpsCollector())
    app.extensions[STATE] = state
    request_started.connect(_note_endpoint, app)
    app.wsgi_app = _Measured(app.wsgi_app, state)  # type: ignore[method-assign]


def _note_endpoint(sender: Flask, **_extra: Any) -> None:
    request.environ[ENDPOINT_KEY] = request.endpoint or UNMATCHED


class _Measured:
    """Wraps the WSGI app: each request's status and time, under its endpoint's name."""

    def __init__(self, wsgi_app: Callable[..., Any], state: _State) -> None:
        self.wsgi_app = wsgi_app
        self.state = state

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        started = time.perf_counter()
        status = ["500"]  # what an exception escaping the app becomes

        def _start_response(line: str, headers: Any, exc_info: Any = None) -> Any:
            status[0] = line.split(" ", 1)[0]
            return start_response(line, headers, exc_info)

        try:
            return self.wsgi_app(environ, _start_response)
        finally:
            method = environ.get("REQUEST_METHOD", "")
            labels = (
                method if method in METHODS else "other",
                environ.get(ENDPOINT_KEY, UNMATCHED),
                status[0],
            )
            self.state.requests.labels(*labels).inc()
            self.state.latency.labels(*labels).observe(time.perf_counter() - started)


class OpsCollector(Collector):
    """The figures read when scraped: the outbox, the dispatcher's lag, job runs."""

    def describe(self) -> list[Metric]:
        # Nothing to check at registration: the names are fixed and no other collector
        # uses them; describing would run the queries outside any request.
        return []

    def collect(self) -> Iterator[Metric]:
        if not has_app_context():
            return
        yield from _outbox_metrics()
        yield from _job_metrics()


def _outbox_metrics() -> Iterator[Metric]:
    from app.messaging.services import oldest_due_at, outbox_depth

    up = GaugeMetricFamily(
        "laoyou_database_up", "1 when the scrape could read the database, else 0."
    )
    now = clock.now()
    try:
        depth = outbox_depth()
        due_since = oldest_due_at(now)
    except SQLAlchemyError as exc:
        db.session.rollback()
        log.warning("metrics: the database did not answer (%s)", type(exc).__name__)
        up.add_metric([], 0)
        yield up
        return
    up.add_metric([], 1)
    yield up
    outbox = GaugeMetricFamily(
        "laoyou_outbox_messages", "Outbox messages in each status.", labels=["status"]
    )
    for status, count in depth.items():
        outbox.add_metric([status], count)
    yield outbox
    lag = GaugeMetricFamily(
        "laoyou_outbox_dispatch_lag_seconds",
        "How long the longest-waiting due message has waited to be sent (0: none waits).",
    )
    lag.add_metric([], max(0.0, (now - due_since).total_seconds()) if due_since else 0.0)
    yield lag


def _job_metrics() -> Iterator[Metric]:
    runs = CounterMetricFamily(
        "laoyou_job_runs", "Scheduled job runs, by job and outcome.", labels=["job", "outcome"]
    )
    last = GaugeMetricFamily(
        "laoyou_job_last_finished_timestamp_seconds",
        "When a job last finished with this outcome (Unix time).",
        labels=["job", "outcome"],
    )
    source: JobRunsSource | None = current_app.extensions.get(JOB_RUNS)
    if source is not None:
        try:
            rows = list(source())
        except Exception:
            # A scrape that fails on one figure loses them all: better to show the rest.
            log.exception("metrics: the job-runs source failed")
            db.session.rollback()
            rows = []
        for job, outcome, count, finished in rows:
            runs.add_metric([job, outcome], count)
            if finished is not None:
                stamp = finished.timestamp() if isinstance(finished, dt.datetime) else finished
                last.add_metric([job, outcome], float(stamp))
    yield runs
    yield last


def exposition(accept: str | None) -> tuple[bytes, str]:
    """The scrape's body and content type (Prometheus text, or OpenMetrics if asked)."""
    state: _State = current_app.extensions[STATE]
    registry = state.registry
    if registry is None:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        registry.register(OpsCollector())
    encoder, content_type = choose_encoder(accept or "")
    return encoder(registry), content_type
