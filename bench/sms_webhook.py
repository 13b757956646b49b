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

(The baselines, the schema, gunicorn and the load are in ``bench/_webhook.py``, shared
with ``bench/wechat_webhook.py``.)

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
import os
import sys
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._webhook import (
    BASELINES,
    PG_URL,
    baseline_requests,
    conninfo,
    laoyou_env,
    measure_as_asked,
    print_figures,
    print_header,
    setup,
    teardown,
    teardown_quietly,
    verify_rows,
)


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
    path, body, headers = baseline_requests("count", 1)[0]
    with observed(seen.append):  # prepared statements bypass SQLAlchemy's events
        response = app.test_client().post(path, data=body, headers=headers)
    engine.dispose()
    if response.status_code != 200:
        raise RuntimeError(f"counting request failed: HTTP {response.status_code}")
    return len(seen)


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
        setup(schema, laoyou_env(schema))
    except Exception as exc:  # PostgreSQL unreachable: say so, do not pretend.
        print(f"sms_webhook: PostgreSQL setup failed ({exc}); skipped", file=sys.stderr)
        teardown_quietly(schema)
        return 1
    try:
        statements = count_statements()
        env_common = {"BENCH_CONNINFO": conninfo(PG_URL, schema), **laoyou_env(schema)}
        targets = [*BASELINES, ("laoyou", "app.wsgi:app")]
        if args.diagnose:
            targets.append(("plumbing", "bench.sms_webhook:plumbing_app()"))
            targets.append(("noledger", "bench.sms_webhook:noledger_app()"))
        run_id = uuid.uuid4().hex[:8]
        measured = measure_as_asked(
            args,
            targets,
            env_common,
            lambda name, tag, count: baseline_requests(f"{run_id}{name}{tag}", count),
        )
        check_laoyou(measured.samples["laoyou"])
        results = measured.results
        verify_rows(schema, results["laoyou"]["n"], results["insert"]["n"])
    finally:
        teardown(schema)

    lao, bare, ins = results["laoyou"], results["bare"], results["insert"]
    what = f"one JF request: {statements} SQL statements in one transaction"
    print_header(args, results, what, 0.4, 75)
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
        baseline = name in ("bare", "insert")
        print_figures(f"sms_{label[name]}", figures, None if baseline else ins["rps"])
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


if __name__ == "__main__":
    sys.exit(main())
