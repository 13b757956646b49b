"""Signed inbound "JF" SMS per second through the Twilio webhook, beside two baselines.

Three WSGI apps are served the same way (gunicorn, 2 gthread workers x 8 threads,
127.0.0.1) and driven in the same run by the same client (16 keep-alive
connections, each request a new MessageSid signed with Twilio's RequestValidator):

- ``laoyou``: ``POST /sms/twilio`` of the real app, served from its production entry
  ``app.wsgi``: signature check, the claim of the MessageSid (an INSERT), the
  command engine answering JF through the services (the member with its level,
  the opt-out, points and next expiry for a member with a level, 1,280 points and
  200 expiring), the reply stored on the claimed row, one commit, TwiML.
- ``bare``: a Flask endpoint that reads the form and answers fixed TwiML.
- ``insert``: the same plus one durable INSERT (autocommit) with psycopg into a
  table with a unique MessageSid: the floor any deduplicating webhook pays.

PostgreSQL only (``BENCH_POSTGRES_URL``, else ``TEST_POSTGRES_URL``, else the local
``test`` database); a fresh schema is made and dropped. Bounded: at most
``--requests`` per app and ``--seconds`` each, in ``--rounds`` interleaved rounds
(the load on a shared machine drifts; every app meets the same drift). Ends with
``figure NAME VALUE UNIT`` lines; ``sms_webhook_ratio`` is the webhook's rate over
the insert baseline's. ``--diagnose`` adds the webhook with a constant engine
(``plumbing``) and with POINTS' ledger read replaced by constants (``noledger``).
"""

from __future__ import annotations

import argparse
import contextlib
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
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
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


def plumbing_app() -> Any:
    """Diagnosis (``--diagnose``): the real webhook with the engine replaced by a constant
    reply, to tell the channel's own cost (signature, dedupe, commit) from the commands'."""
    import app.bot.engine
    from app import create_app
    from app.bot.message import Message, Reply

    def constant(message: Message) -> Reply:
        return Reply(text="ok", language="en", command="bench")

    app.bot.engine.handle_message = constant  # type: ignore[assignment]
    return _frozen(create_app())


def noledger_app() -> Any:
    """Diagnosis (``--diagnose``): the real webhook with POINTS' ledger read replaced by
    constants, to tell its share of JF."""
    import app.bot.commands.balances
    from app import create_app
    from app.ledger.balances import Balances

    def constants(member_id: int) -> tuple[Balances, None]:
        return Balances(points=1280), None

    app.bot.commands.balances.points_summary = constants  # type: ignore[assignment]
    return _frozen(create_app())


def _frozen(app: Any) -> Any:
    """What ``app.wsgi`` does after start-up, for the diagnostic variants."""
    import gc

    gc.freeze()
    return app


def count_statements() -> int:
    """SQL statements one signed JF makes, in-process on the bench schema (BEGIN and
    COMMIT not counted)."""
    from sqlalchemy import event

    from app import create_app
    from app.db import db
    from app.db.prepared import observed

    app = create_app()
    seen: list[str] = []
    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", lambda *args: seen.append(args[2]))
    body, signature = signed_requests("count", 1)[0]
    with observed(seen.append):  # prepared statements bypass SQLAlchemy's events
        response = app.test_client().post(
            "/sms/twilio",
            data=body,
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Twilio-Signature": signature,
            },
        )
    engine.dispose()
    if response.status_code != 200:
        raise RuntimeError(f"counting request failed: HTTP {response.status_code}")
    return len(seen)


# --- the run ---------------------------------------------------------------------------


def _conninfo(url: str, schema: str) -> str:
    from sqlalchemy.engine import make_url

    u = make_url(url)
    return (
        f"host={u.host or '127.0.0.1'} port={u.port or 5432} dbname={u.database} "
        f"user={u.username or 'postgres'}"
        + (f" password={u.password}" if u.password else "")
        + f" options=-csearch_path={schema}"
    )


def _schema_url(schema: str) -> str:
    from sqlalchemy.engine import make_url

    return (
        make_url(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1))
        .update_query_dict({"options": f"-csearch_path={schema}"})
        .render_as_string(hide_password=False)
    )


def _laoyou_env(schema: str) -> dict[str, str]:
    return {
        "LAOYOU_ENV": "development",
        "SECRET_KEY": "bench-secret-key-0123456789abcdef0123456789",
        "DATABASE_URL": _schema_url(schema),
        "TWILIO_AUTH_TOKEN": TOKEN,
        "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
        "SMS_PROVIDER": "console",
        # Every request should run the command, not meet the per-sender flood limit.
        "BOT_RATE_LIMIT": "1000000/minute",
    }


def setup(schema: str) -> None:
    import psycopg
    from sqlalchemy import text

    with psycopg.connect(_conninfo(PG_URL, "public"), autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        conn.execute(f"CREATE SCHEMA {schema}")
    os.environ.update(_laoyou_env(schema))
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
        with db.engine.begin() as conn:
            conn.execute(text(BASELINE_DDL))
        db.engine.dispose()


def teardown(schema: str) -> None:
    import psycopg

    with psycopg.connect(_conninfo(PG_URL, "public"), autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


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


def signed_requests(prefix: str, count: int) -> list[tuple[bytes, str]]:
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
        out.append((urlencode(params).encode(), validator.compute_signature(url, params)))
    return out


def load(
    port: int, requests: list[tuple[bytes, str]], clients: int, seconds: float
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
            body, signature = requests[n]
            t0 = time.perf_counter()
            conn.request(
                "POST",
                "/sms/twilio",
                body=body,
                headers={
                    "Content-Type": "application/x-www-form-urlencoded",
                    "X-Twilio-Signature": signature,
                },
            )
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--requests", type=int, default=4000, help="per app, at most")
    parser.add_argument("--seconds", type=float, default=20.0, help="per app, at most")
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=4, help="interleaved rounds per app")
    parser.add_argument(
        "--diagnose",
        action="store_true",
        help="also serve the webhook with a constant engine, and without the ledger's read",
    )
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (every app)")
    parser.add_argument("--threads", type=int, default=8, help="threads per worker (every app)")
    args = parser.parse_args()

    schema = f"bench_sms_{os.getpid()}"
    try:
        setup(schema)
    except Exception as exc:  # PostgreSQL unreachable: say so, do not pretend.
        print(f"sms_webhook: PostgreSQL setup failed ({exc}); skipped", file=sys.stderr)
        teardown_quietly(schema)
        return 1
    results: dict[str, dict[str, float]] = {}
    try:
        statements = count_statements()
        env_common = {"BENCH_CONNINFO": _conninfo(PG_URL, schema), **_laoyou_env(schema)}
        targets = [
            ("bare", "bench.sms_webhook:bare_app()"),
            ("insert", "bench.sms_webhook:insert_app()"),
            ("laoyou", "app.wsgi:app"),
        ]
        if args.diagnose:
            targets.append(("plumbing", "bench.sms_webhook:plumbing_app()"))
            targets.append(("noledger", "bench.sms_webhook:noledger_app()"))
        run_id = uuid.uuid4().hex[:8]
        servers: dict[str, tuple[subprocess.Popen[bytes], int]] = {}
        try:
            for name, spec in targets:
                servers[name] = serve(spec, env_common, args.workers, args.threads)
            for name, (_process, port) in servers.items():
                load(port, signed_requests(f"{run_id}{name}w", args.warmup), args.clients, 30)
            # Rounds, interleaved: on a shared machine the load drifts, and every app
            # should meet the same drift.
            per_round = max(1, args.requests // args.rounds)
            acc = {name: {"n": 0, "elapsed": 0.0, "app": 0.0, "db": 0.0} for name in servers}
            latencies: dict[str, list[float]] = {name: [] for name in servers}
            samples: list[bytes] = []
            for r in range(args.rounds):
                for name, (process, port) in servers.items():
                    batch = signed_requests(f"{run_id}{name}{r}m", per_round)
                    # Where the time goes: CPU of the app's workers and of PostgreSQL.
                    workers = [process.pid, *_pids("-P", str(process.pid))]
                    app_cpu = _cpu_seconds(workers)
                    db_cpu = _cpu_seconds(_pids("-u", "postgres"))
                    rps, lat, sampled = load(port, batch, args.clients, args.seconds / args.rounds)
                    acc[name]["app"] += _cpu_seconds(workers) - app_cpu
                    acc[name]["db"] += max(0.0, _cpu_seconds(_pids("-u", "postgres")) - db_cpu)
                    acc[name]["n"] += len(lat)
                    acc[name]["elapsed"] += len(lat) / rps
                    latencies[name] += lat
                    if name == "laoyou":
                        samples += sampled
        finally:
            for process, _port in servers.values():
                process.terminate()
                process.wait(10)
        check_laoyou(samples)
        for name, figures in acc.items():
            lat = latencies[name]
            results[name] = {
                "rps": figures["n"] / figures["elapsed"],
                "p50_ms": statistics.median(lat) * 1000,
                "p99_ms": percentile(lat, 0.99) * 1000,
                "n": float(figures["n"]),
                "app_cpu_ms": figures["app"] / figures["n"] * 1000,
                "db_cpu_ms": figures["db"] / figures["n"] * 1000,
            }
        verify_rows(schema, results)
    finally:
        teardown(schema)

    lao, bare, ins = results["laoyou"], results["bare"], results["insert"]
    ok = lao["rps"] >= 0.4 * ins["rps"] and lao["p99_ms"] < 75
    print(
        f"# {args.clients} connections, gunicorn {args.workers}x{args.threads} gthread, "
        "PostgreSQL; "
        + ", ".join(f"requests {name} {figures['n']:.0f}" for name, figures in results.items())
    )
    print(
        f"# one JF request: {statements} SQL statements in one transaction; "
        f"target (>= 40% of the insert baseline, p99 < 75 ms): {'met' if ok else 'NOT met'}"
    )
    # CPU per request: the app's gunicorn workers, and PostgreSQL (every backend on the
    # host, so other activity on a shared machine shows up here too).
    label = {
        "laoyou": "webhook",
        "bare": "baseline_bare",
        "insert": "baseline_insert",
        "plumbing": "webhook_plumbing",
        "noledger": "webhook_noledger",
    }
    for name, figures in results.items():
        prefix = f"sms_{label[name]}"
        print(f"figure {prefix}_rps {figures['rps']:.1f} requests/s")
        print(f"figure {prefix}_p50_ms {figures['p50_ms']:.2f} ms")
        print(f"figure {prefix}_p99_ms {figures['p99_ms']:.2f} ms")
        print(f"figure {prefix}_app_cpu_ms {figures['app_cpu_ms']:.2f} ms")
        print(f"figure {prefix}_db_cpu_ms {figures['db_cpu_ms']:.2f} ms")
        if name not in ("bare", "insert"):
            print(f"figure {prefix}_ratio {figures['rps'] / ins['rps']:.3f} ratio")
    print(f"figure sms_webhook_statements {statements} statements")
    print(f"figure sms_webhook_ratio_bare {lao['rps'] / bare['rps']:.3f} ratio")
    # The p99 target is absolute, and p99 follows the machine's speed: beside the insert
    # baseline's p99 of the same run it holds on a noisy machine (lower is better).
    print(f"figure sms_webhook_p99_vs_insert {lao['p99_ms'] / ins['p99_ms']:.3f} ratio")
    return 0


def check_laoyou(samples: list[bytes]) -> None:
    """The webhook must have answered the command, not an error or a silence."""
    if not samples:
        raise RuntimeError("no sampled replies")
    for body in samples:
        text = body.decode()
        if "<Message>" not in text or not all(w in text for w in ("1,280", "金卡", "到期")):
            raise RuntimeError(f"unexpected reply from the webhook: {text[:200]}")


def verify_rows(schema: str, results: dict[str, dict[str, float]]) -> None:
    """Every request left exactly its one row: the work measured is the work done."""
    import psycopg

    with psycopg.connect(_conninfo(PG_URL, schema), autocommit=True) as conn:
        inbound = conn.execute("SELECT count(*) FROM inbound_message").fetchone()
        baseline = conn.execute("SELECT count(*) FROM bench_inbound").fetchone()
    assert inbound and baseline
    if inbound[0] < results["laoyou"]["n"] or baseline[0] < results["insert"]["n"]:
        raise RuntimeError(f"rows missing: inbound {inbound[0]}, baseline {baseline[0]}")


def teardown_quietly(schema: str) -> None:
    with contextlib.suppress(Exception):
        teardown(schema)


if __name__ == "__main__":
    sys.exit(main())
