"""What the webhook benchmarks share: the PostgreSQL schema and the member every request
asks about, the two baselines, gunicorn, the load generator and the interleaved rounds.

Not a benchmark itself (``make bench`` runs the files without a leading underscore).
The baselines are loaded by gunicorn from here (``bench._webhook:bare_app()``):

- ``bare``: a Flask endpoint that reads the form and answers fixed TwiML.
- ``insert``: the same plus one durable INSERT (autocommit) with psycopg into a table
  with a unique MessageSid: the floor any deduplicating webhook pays.
"""

from __future__ import annotations

import datetime as dt
import http.client
import itertools
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PG_URL = os.environ.get(
    "BENCH_POSTGRES_URL",
    os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"),
)
TOKEN = "bench-twilio-auth-token-0123456789"
PUBLIC_BASE_URL = "http://bench.laoyou.invalid"
PHONE = "+8613800138000"
TO = "+15005550006"
TWIML_OK = '<?xml version="1.0" encoding="UTF-8"?><Response><Message>ok</Message></Response>'
BASELINE_DDL = (
    "CREATE TABLE bench_inbound (id bigserial PRIMARY KEY, provider_id text NOT NULL UNIQUE, "
    "sender text NOT NULL, body text NOT NULL, received_at timestamptz NOT NULL DEFAULT now())"
)
BASELINES = [("bare", "bench._webhook:bare_app()"), ("insert", "bench._webhook:insert_app()")]

#: One request: path, body, headers.
Request = tuple[str, bytes, dict[str, str]]


# --- the baselines, loaded by gunicorn from this file -----------------------------------


def bare_app() -> Any:
    from flask import Flask, Response, request

    app = Flask("bare")

    @app.post("/sms/twilio")
    def hook() -> Response:
        request.form.get("MessageSid")
        return Response(TWIML_OK, mimetype="text/xml")

    return app


def insert_app() -> Any:
    import psycopg
    from flask import Flask, Response, request

    conninfo = os.environ["BENCH_CONNINFO"]
    local = threading.local()
    app = Flask("insert")

    @app.post("/sms/twilio")
    def hook() -> Response:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = psycopg.connect(conninfo, autocommit=True)
        form = request.form
        conn.execute(
            "INSERT INTO bench_inbound (provider_id, sender, body) VALUES (%s, %s, %s)",
            (form["MessageSid"], form["From"], form["Body"]),
        )
        return Response(TWIML_OK, mimetype="text/xml")

    return app


def baseline_requests(prefix: str, count: int) -> list[Request]:
    """Signed inbound "JF" SMS, as Twilio posts them (what the baselines read)."""
    from twilio.request_validator import RequestValidator

    validator = RequestValidator(TOKEN)
    url = PUBLIC_BASE_URL + "/sms/twilio"
    out = []
    for n in range(count):
        sid = f"SM{prefix}{n:010d}"
        params = {
            "MessageSid": sid,
            "SmsSid": sid,
            "AccountSid": "AC" + "0" * 32,
            "From": PHONE,
            "To": TO,
            "Body": "JF",
            "NumMedia": "0",
            "ApiVersion": "2010-04-01",
        }
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": validator.compute_signature(url, params),
        }
        out.append(("/sms/twilio", urlencode(params).encode(), headers))
    return out


# --- the database ----------------------------------------------------------------------


def conninfo(url: str, schema: str) -> str:
    from sqlalchemy.engine import make_url

    u = make_url(url)
    return (
        f"host={u.host or '127.0.0.1'} port={u.port or 5432} dbname={u.database} "
        f"user={u.username or 'postgres'}"
        + (f" password={u.password}" if u.password else "")
        + f" options=-csearch_path={schema}"
    )


def schema_url(schema: str) -> str:
    from sqlalchemy.engine import make_url

    return (
        make_url(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1))
        .update_query_dict({"options": f"-csearch_path={schema}"})
        .render_as_string(hide_password=False)
    )


def laoyou_env(schema: str) -> dict[str, str]:
    return {
        "LAOYOU_ENV": "development",
        "SECRET_KEY": "bench-secret-key-0123456789abcdef0123456789",
        "DATABASE_URL": schema_url(schema),
        "TWILIO_AUTH_TOKEN": TOKEN,
        "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
        "SMS_PROVIDER": "console",
        # Every request should run the command, not meet the per-sender flood limit.
        "BOT_RATE_LIMIT": "1000000/minute",
    }


def setup(schema: str, env: dict[str, str], then: Callable[[Any], None] | None = None) -> None:
    """A fresh schema with the member every request asks about (``then(member)`` adds to it,
    in the same unit of work) and the baseline's table; ``env`` goes into os.environ."""
    import psycopg
    from sqlalchemy import text

    with psycopg.connect(conninfo(PG_URL, "public"), autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        conn.execute(f"CREATE SCHEMA {schema}")
    os.environ.update(env)
    from app import create_app
    from app.cards.services import enroll, member_cards
    from app.clock import local_today
    from app.db import Base, db, unit_of_work
    from app.ledger.journal import credit_points
    from app.members.models import Level
    from app.stores.services import create_store

    app = create_app()
    with app.app_context():
        Base.metadata.create_all(db.engine)
        with unit_of_work() as session:
            create_store("SH01", "静安店", "East")
            member = enroll({"phone": PHONE, "home_store": "SH01", "name": "压测"})
            # A member as JF meets them: a level, points, and some that expire next.
            member.level = Level(name="金卡", rank=3)
            session.flush()
            card = member_cards(member)[0]
            credit_points(card, 1080, kind="gift", key="bench:points", expires_on=None)
            credit_points(
                card,
                200,
                kind="gift",
                key="bench:expiring",
                expires_on=local_today() + dt.timedelta(days=90),
            )
            if then is not None:
                then(member)
        with db.engine.begin() as conn:
            conn.execute(text(BASELINE_DDL))
        db.engine.dispose()


def teardown(schema: str) -> None:
    import psycopg

    with psycopg.connect(conninfo(PG_URL, "public"), autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def teardown_quietly(schema: str) -> None:
    try:
        teardown(schema)
    except Exception:  # already unreachable: nothing to drop
        return


def verify_rows(schema: str, webhook_n: float, insert_n: float) -> None:
    """Every request left exactly its one row: the work measured is the work done."""
    import psycopg

    with psycopg.connect(conninfo(PG_URL, schema), autocommit=True) as conn:
        inbound = conn.execute("SELECT count(*) FROM inbound_message").fetchone()
        baseline = conn.execute("SELECT count(*) FROM bench_inbound").fetchone()
    assert inbound and baseline
    if inbound[0] < webhook_n or baseline[0] < insert_n:
        raise RuntimeError(f"rows missing: inbound {inbound[0]}, baseline {baseline[0]}")


# --- serving and loading ----------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(
    spec: str, env: dict[str, str], workers: int = 2, threads: int = 8
) -> tuple[subprocess.Popen[bytes], int]:
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--workers",
            str(workers),
            "--worker-class",
            "gthread",
            "--threads",
            str(threads),
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "--chdir",
            str(ROOT),
            spec,
        ],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process, port
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"gunicorn did not start for {spec}")


def load(
    port: int, requests: list[Request], clients: int, seconds: float
) -> tuple[float, list[float], list[bytes]]:
    """Fire ``requests`` over ``clients`` keep-alive connections; (rps, latencies s, bodies)."""
    counter = itertools.count()
    latencies: list[list[float]] = [[] for _ in range(clients)]
    samples: list[bytes] = []
    errors: list[str] = []
    deadline = time.monotonic() + seconds
    start_gate = threading.Barrier(clients + 1)

    def client(slot: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine = latencies[slot]
        start_gate.wait()
        while time.monotonic() < deadline:
            n = next(counter)
            if n >= len(requests):
                break
            path, body, headers = requests[n]
            t0 = time.perf_counter()
            conn.request("POST", path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
            mine.append(time.perf_counter() - t0)
            if response.status != 200:
                errors.append(f"HTTP {response.status}: {data[:200]!r}")
            elif n % 97 == 0:
                samples.append(data)
        conn.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    start_gate.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    if errors:
        raise RuntimeError(f"{len(errors)} failed requests, first: {errors[0]}")
    flat = [x for xs in latencies for x in xs]
    return len(flat) / elapsed, flat, samples


def _cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of these processes so far (Linux /proc; 0 where unreadable)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def _pids(*args: str) -> list[int]:
    found = subprocess.run(["pgrep", *args], capture_output=True, text=True, check=False)
    return [int(p) for p in found.stdout.split()]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@dataclass
class Measured:
    #: Per app: rps, p50_ms, p99_ms, n, app_cpu_ms, db_cpu_ms.
    results: dict[str, dict[str, float]] = field(default_factory=dict)
    #: Sampled response bodies per app.
    samples: dict[str, list[bytes]] = field(default_factory=dict)


def measure(
    targets: list[tuple[str, str]],
    env: dict[str, str],
    batch: Callable[[str, str, int], list[Request]],
    *,
    clients: int,
    requests: int,
    seconds: float,
    warmup: int,
    rounds: int,
    workers: int,
    threads: int,
) -> Measured:
    """Serve each ``(name, gunicorn spec)`` the same way, warm each up, then load them in
    interleaved rounds (on a shared machine the load drifts, and every app should meet the
    same drift). ``batch(name, tag, count)`` makes that many fresh requests for an app."""
    servers: dict[str, tuple[subprocess.Popen[bytes], int]] = {}
    acc = {name: {"n": 0.0, "elapsed": 0.0, "app": 0.0, "db": 0.0} for name, _ in targets}
    latencies: dict[str, list[float]] = {name: [] for name, _ in targets}
    measured = Measured(samples={name: [] for name, _ in targets})
    try:
        for name, spec in targets:
            servers[name] = serve(spec, env, workers, threads)
        for name, (_process, port) in servers.items():
            load(port, batch(name, "w", warmup), clients, 30)
        per_round = max(1, requests // rounds)
        for r in range(rounds):
            for name, (process, port) in servers.items():
                requests_now = batch(name, f"{r}m", per_round)
                # Where the time goes: CPU of the app's workers and of PostgreSQL.
                workers_pids = [process.pid, *_pids("-P", str(process.pid))]
                app_cpu = _cpu_seconds(workers_pids)
                db_cpu = _cpu_seconds(_pids("-u", "postgres"))
                rps, lat, sampled = load(port, requests_now, clients, seconds / rounds)
                acc[name]["app"] += _cpu_seconds(workers_pids) - app_cpu
                acc[name]["db"] += max(0.0, _cpu_seconds(_pids("-u", "postgres")) - db_cpu)
                acc[name]["n"] += len(lat)
                acc[name]["elapsed"] += len(lat) / rps
                latencies[name] += lat
                measured.samples[name] += sampled
    finally:
        for process, _port in servers.values():
            process.terminate()
            process.wait(10)
    for name, figures in acc.items():
        lat = latencies[name]
        measured.results[name] = {
            "rps": figures["n"] / figures["elapsed"],
            "p50_ms": statistics.median(lat) * 1000,
            "p99_ms": percentile(lat, 0.99) * 1000,
            "n": figures["n"],
            "app_cpu_ms": figures["app"] / figures["n"] * 1000,
            "db_cpu_ms": figures["db"] / figures["n"] * 1000,
        }
    return measured


def print_figures(prefix: str, figures: dict[str, float], insert_rps: float | None) -> None:
    print(f"figure {prefix}_rps {figures['rps']:.1f} requests/s")
    print(f"figure {prefix}_p50_ms {figures['p50_ms']:.2f} ms")
    print(f"figure {prefix}_p99_ms {figures['p99_ms']:.2f} ms")
    print(f"figure {prefix}_app_cpu_ms {figures['app_cpu_ms']:.2f} ms")
    print(f"figure {prefix}_db_cpu_ms {figures['db_cpu_ms']:.2f} ms")
    if insert_rps is not None:
        print(f"figure {prefix}_ratio {figures['rps'] / insert_rps:.3f} ratio")


def measure_as_asked(
    args: Any,
    targets: list[tuple[str, str]],
    env: dict[str, str],
    batch: Callable[[str, str, int], list[Request]],
) -> Measured:
    """``measure`` with the load the command line asked for (the benchmarks' shared flags)."""
    return measure(
        targets,
        env,
        batch,
        clients=args.clients,
        requests=args.requests,
        seconds=args.seconds,
        warmup=args.warmup,
        rounds=args.rounds,
        workers=args.workers,
        threads=args.threads,
    )


def print_header(
    args: Any, results: dict[str, dict[str, float]], what: str, ratio: float, p99_ms: float
) -> None:
    """The run's setup and whether the webhook met its target (``ratio`` of the insert
    baseline's rate, p99 under ``p99_ms``)."""
    lao, ins = results["laoyou"], results["insert"]
    ok = lao["rps"] >= ratio * ins["rps"] and lao["p99_ms"] < p99_ms
    print(
        f"# {args.clients} connections, gunicorn {args.workers}x{args.threads} gthread, "
        "PostgreSQL; "
        + ", ".join(f"requests {name} {figures['n']:.0f}" for name, figures in results.items())
    )
    print(
        f"# {what}; target (>= {ratio:.0%} of the insert baseline, p99 < {p99_ms:.0f} ms): "
        + ("met" if ok else "NOT met")
    )
