"""Every report's first page and CSV for one month, beside its own SQL run bare.

A fresh PostgreSQL schema (``BENCH_POSTGRES_URL``, else ``TEST_POSTGRES_URL``, else the
local ``test`` database; dropped after) is made from the models (tables, the journal's
triggers, the system accounts), then loaded with COPY: each table's rows are made by the
server (``generate_series``) and streamed ``COPY (SELECT …) TO STDOUT`` → ``COPY … FROM
STDIN`` with psycopg 3's ``cursor.copy``, the journal's triggers off while it loads. The
full size is 1M members (each with a card and its points and stored-value accounts, four
in five with a birthday, a tenth of those lunar), 20
stores in 4 regions, 40 staff, 5 API keys, 30 gifts and 5M journal lines (1.56M
transactions: checkouts with two items, cash checkouts, recharges with bonus, refunds,
gift redemptions, expiries) over ``--months`` months (24) ending 2026-11-30 local;
``--small`` (or ``BENCH_REPORTS_SMALL=1``) loads a tenth of it. ``--keep`` keeps the
schema and ``--reuse SCHEMA`` measures a kept one again without building it.

Then for each of the sixteen reports (``app.reports.registry.REPORTS``) and for 2026-11
(one month), the report as the panel runs it (``ReportSpec.run``) is timed for its first
page and for its CSV (``page=None``: every row), in an app context with its own session
as a request would be. The SQL it sent is recorded
(SQLAlchemy's ``before_cursor_execute``: the statements and parameters as the driver got
them) and the same statements are run bare on a psycopg connection, fetching every row.
Runs alternate (ours, bare, ours, …) and each figure is the median. The ratio is bare
time / report time (1.0: the report costs nothing beyond its SQL). The plans PostgreSQL
chooses for those statements are checked for a sequential scan of the journal.

Ends with ``figure NAME VALUE UNIT`` lines: per report ``reports_<name>_page_ms``,
``…_csv_ms``, ``…_page_ratio``, ``…_csv_ratio``; then ``reports_journal_seq_scans``
(statements whose plan reads ledger_transaction or ledger_line whole; target 0) and
``reports_worst_ratio`` (the smallest ratio; target ≥ 0.5).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PG_URL = (
    os.environ.get("BENCH_POSTGRES_URL")
    or os.environ.get("TEST_POSTGRES_URL")
    or "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
STORES, STAFF, KEYS, GIFTS = 20, 40, 5, 30
#: The data ends here (local midnight, +08:00); the month measured is the one before.
END = "2026-12-01 00:00:00+08"
MONTH = (dt.date(2026, 11, 1), dt.date(2026, 11, 30))
#: Lines per 20 transactions: 12 stored-value checkouts (4 lines), 1 cash checkout, 4
#: recharges, 1 refund, 1 redemption, 1 expiry (2 lines each).
LINES_PER_20 = 12 * 4 + 2 + 4 * 2 + 2 + 2 + 2


def conninfo(url: str) -> str:
    from sqlalchemy.engine import make_url

    u = make_url(url)
    info = f"host={u.host or '127.0.0.1'} port={u.port or 5432} dbname={u.database} "
    info += f"user={u.username or 'postgres'}"
    if u.password:
        info += f" password={u.password}"
    options = u.query.get("options")
    if options:
        info += f" options='{options}'"
    return info


def config(url: str) -> dict[str, Any]:
    return {
        "LAOYOU_ENV": "testing",
        "SECRET_KEY": "bench-secret-key-that-is-long-enough-0000",
        "DATABASE_URL": url,
    }


# --- the data ---------------------------------------------------------------------------


def _tables(members: int, transactions: int, months: int) -> list[tuple[str, str, str]]:
    """(table, its columns, the SELECT that makes its rows), in load order."""
    from app.ledger.models import system_account_id

    span = f"(interval '{months} months')"
    start = f"(timestamptz '{END}' - {span})"
    step = f"(extract(epoch FROM {span})::float8 / {transactions})"
    spent_sv = system_account_id("spent", "stored_value_paid")
    issued_sv = system_account_id("issued", "stored_value_paid")
    issued_bonus = system_account_id("issued", "stored_value_bonus")
    issued_pts = system_account_id("issued", "points")
    spent_pts = system_account_id("spent", "points")
    breakage_pts = system_account_id("breakage", "points")
    # One transaction's figures, from its number n (kind by n % 20, as LINES_PER_20 says).
    txn = f"""
        SELECT n, n % 20 AS r, ((n * 7919) % {members}) + 1 AS card,
               ((n / 20) % {STORES}) + 1 AS store,
               {start} + make_interval(secs => (n - 1) * {step}) AS at,
               1000 + (n * 37) % 20000 AS amount
        FROM generate_series(1::bigint, {transactions}) AS n"""
    kind = """CASE WHEN r <= 11 OR r = 19 THEN 'checkout' WHEN r <= 15 THEN 'recharge'
        WHEN r = 16 THEN 'refund' WHEN r = 17 THEN 'redemption' ELSE 'expiry' END"""
    items = """json_build_array(
        json_build_object('sku', 'SKU' || (n % 200), 'category', 'C' || (n % 12),
                          'amount_fen', amount - amount / 3, 'quantity', 1 + n % 3),
        json_build_object('sku', 'SKU' || ((n * 13) % 200), 'category', 'C' || ((n * 13) % 12),
                          'amount_fen', amount / 3, 'quantity', 1))"""
    details = f"""CASE WHEN r <= 11 OR r = 19 THEN json_build_object(
            'pay_with', CASE WHEN r = 19 THEN 'cash' ELSE 'stored_value' END, 'items', {items})
        WHEN r <= 15 THEN json_build_object('bonus_fen', (n % 10) * 500)
        ELSE json_build_object() END"""
    actor = f"""CASE WHEN r = 18 THEN 'job:expire' WHEN n % 7 = 0
        THEN 'apikey:' || ((n / 7) % {KEYS} + 1) ELSE 'staff:s' || ((n / 3) % {STAFF}) END"""
    money = """CASE WHEN r <= 11 OR r = 19 THEN amount WHEN r <= 15 THEN 10000 * (1 + n % 10)
        WHEN r = 16 THEN 500 + n % 3000 ELSE 0 END"""
    charged = "amount - amount / 20"
    # Each leg: (account, asset, amount, balance after, whether this kind has it).
    legs = f"""(VALUES
        (2 * card, 'stored_value_paid', -({charged}), 0::bigint, r <= 11),
        ({spent_sv}, 'stored_value_paid', {charged}, NULL, r <= 11),
        (2 * card - 1, 'points', ({charged}) / 100, 0, r <= 11 OR r = 19),
        ({issued_pts}, 'points', -(({charged}) / 100), NULL, r <= 11 OR r = 19),
        (2 * card, 'stored_value_paid', 10000 * (1 + n % 10), 0, r BETWEEN 12 AND 15),
        ({issued_sv}, 'stored_value_paid', -10000 * (1 + n % 10), NULL, r BETWEEN 12 AND 15),
        (2 * card, 'stored_value_paid', 500 + n % 3000, 0, r = 16),
        ({spent_sv}, 'stored_value_paid', -(500 + n % 3000), NULL, r = 16),
        (2 * card - 1, 'points', -(100 + n % 400), 0, r = 17),
        ({spent_pts}, 'points', 100 + n % 400, NULL, r = 17),
        (2 * card - 1, 'points', -(10 + n % 90), 0, r = 18),
        ({breakage_pts}, 'points', 10 + n % 90, NULL, r = 18)
    ) AS leg(account_id, asset, amount, balance_after, used)"""
    del issued_bonus  # the bonus is in details only: no report reads its lines
    joined = f"({start} - interval '1 year')"
    joined_step = f"(extract(epoch FROM {span} + interval '1 year')::float8 / {members})"
    return [
        (
            "store",
            "id, code, name, region, created_at",
            f"""SELECT i, 'S' || lpad(i::text, 2, '0'), '门店' || i, '区域' || (i % 4), {start}
                FROM generate_series(1, {STORES}) AS i""",
        ),
        (
            "staff_user",
            "id, username, display_name, password_hash, language, role, store_id, active, "
            "failed_sign_ins, session_version, created_at",
            f"""SELECT i + 1, 's' || i, '员工' || i, 'x', 'zh-Hans', 'cashier',
                       i % {STORES} + 1, true, 0, 1, {start}
                FROM generate_series(0, {STAFF - 1}) AS i""",
        ),
        (
            "api_key",
            "id, store_id, prefix, key_sha256, label, created_at",
            f"""SELECT i, i % {STORES} + 1, 'k' || i, md5(i::text) || md5(i::text), 'POS ' || i,
                       {start} FROM generate_series(1, {KEYS}) AS i""",
        ),
        (
            "gift",
            "id, code, name, points_cost, stock, active",
            f"""SELECT i, 'G' || i, '礼品' || i, 100 + i,
                       CASE WHEN i % 5 = 0 THEN NULL ELSE 100000 - i * 10 END, true
                FROM generate_series(1, {GIFTS}) AS i""",
        ),
        (
            "member",
            "id, phone, name, gender, birthday_year, birthday_month, birthday_day, "
            "birthday_calendar, lunar_leap_month, language, home_store_id, tags, answers, "
            "joined_at, sms_opt_out, wechat_opt_out",
            # Four in five members state a birthday (one in ten of them lunar, a tenth of
            # those in a leap month), so the birthdays report places a month's worth.
            f"""SELECT m, '+8613' || lpad(m::text, 9, '0'), '会员' || m, 'unknown',
                       CASE WHEN m % 3 = 0 THEN NULL ELSE 1950 + m % 55 END,
                       CASE WHEN m % 5 = 0 THEN NULL ELSE 1 + m % 12 END,
                       CASE WHEN m % 5 = 0 THEN NULL
                            ELSE 1 + (m / 12) % CASE WHEN m % 10 = 3 THEN 30 ELSE 28 END END,
                       CASE WHEN m % 10 = 3 THEN 'lunar' ELSE 'solar' END, m % 100 = 3,
                       'zh-Hans', (m - 1) % {STORES} + 1, '[]', '{{}}',
                       {joined} + make_interval(secs => (m - 1) * {joined_step}), false, false
                FROM generate_series(1, {members}) AS m""",
        ),
        (
            "card",
            "id, number, type, state, member_id, is_primary, issued_store_id, pin_failures, "
            "credit_limit_fen, rechargeable, issued_at",
            f"""SELECT c, '88' || lpad(c::text, 14, '0'), 'stored_value', 'active', c, true,
                       (c - 1) % {STORES} + 1, 0, 0, true, {start}
                FROM generate_series(1, {members}) AS c""",
        ),
        (
            "ledger_account",
            "id, card_id, asset, balance",
            # Nine members in ten hold points, one in three stored value (the balances report
            # lists them; the journal's running balances are not these, and no report checks).
            f"""SELECT 2 * c - 1 + a, c, CASE a WHEN 0 THEN 'points' ELSE 'stored_value_paid' END,
                       CASE WHEN a = 0 AND c % 10 <> 0 THEN c % 5000
                            WHEN a = 1 AND c % 3 = 0 THEN (c % 100) * 100 ELSE 0 END
                FROM generate_series(1, {members}) AS c, generate_series(0, 1) AS a""",
        ),
        (
            "ledger_transaction",
            "id, kind, idempotency_key, request_hash, store_id, actor, card_id, member_id, "
            "amount_fen, discount_fen, charged_fen, details, created_at",
            f"""SELECT n, {kind}, 'bench:' || n, 'x', CASE WHEN r = 18 THEN NULL ELSE store END,
                       {actor}, card, card, {money},
                       CASE WHEN r <= 11 OR r = 19 THEN amount / 20 ELSE 0 END,
                       CASE WHEN r <= 11 OR r = 19 THEN {charged} ELSE 0 END, {details}, at
                FROM ({txn}) AS t""",
        ),
        (
            "ledger_line",
            "transaction_id, account_id, asset, amount, balance_after",
            f"""SELECT n, leg.account_id, leg.asset, leg.amount, leg.balance_after
                FROM ({txn}) AS t CROSS JOIN LATERAL {legs} WHERE leg.used""",
        ),
        (
            "redemption",
            "kind, card_id, member_id, gift_id, quantity, points_spent, transaction_id, "
            "store_id, created_at",
            f"""SELECT 'gift', card, card, (n / 20) % {GIFTS} + 1, 1, 100 + n % 400, n, store, at
                FROM ({txn}) AS t WHERE r = 17""",
        ),
    ]


def build(url: str, members: int, lines: int, months: int) -> None:
    """Tables from the models, then every row by COPY, then ANALYZE."""
    import psycopg

    from app import create_app
    from app.db import Base, db

    app = create_app(config(url))
    with app.app_context():
        Base.metadata.create_all(db.engine)  # with the ledger's triggers and system accounts
        db.engine.dispose()
    transactions = lines * 20 // LINES_PER_20
    with psycopg.connect(conninfo(url)) as source, psycopg.connect(conninfo(url)) as target:
        target.execute("SET synchronous_commit = off")
        for table, columns, select in _tables(members, transactions, months):
            began = time.monotonic()
            # The journal's triggers (append-only, zero-sum at commit) and foreign keys
            # would run once per row: the rows are made consistent instead.
            target.execute(f"ALTER TABLE {table} DISABLE TRIGGER ALL")
            with (
                source.cursor().copy(f"COPY ({select}) TO STDOUT") as rows_out,
                target.cursor().copy(f"COPY {table} ({columns}) FROM STDIN") as rows_in,
            ):
                for block in rows_out:
                    rows_in.write(block)
            target.execute(f"ALTER TABLE {table} ENABLE TRIGGER ALL")
            target.commit()
            source.commit()
            count = target.execute(f"SELECT count(*) FROM {table}").fetchone()
            target.commit()
            print(
                f"loaded {table}: {count[0] if count else 0} rows in "
                f"{time.monotonic() - began:.1f} s",
                flush=True,
            )
        target.autocommit = True
        target.execute("ANALYZE")


# --- the measurement --------------------------------------------------------------------


def reports() -> dict[str, Callable[..., Any]]:
    """Every report the panel offers (the registry), by its URL name, run as the panel runs
    it (``ReportSpec.run``: in the language of ``params``)."""
    from app.reports.registry import REPORTS

    return {name: spec.run for name, spec in REPORTS.items()}


class Recorder:
    """The statements a report sends, as the driver receives them."""

    def __init__(self) -> None:
        self.statements: list[tuple[str, Any]] = []
        self.on = False

    def __call__(self, _conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if self.on:
            self.statements.append((statement, parameters))


def run_ours(app: Any, fn: Callable[..., Any], params: Any) -> tuple[float, int]:
    from app import clock
    from app.db import db

    with app.app_context(), clock.frozen(dt.datetime(2026, 11, 30, 20, tzinfo=_CST)):
        began = time.perf_counter()
        report = fn(db.session, params)
        elapsed = time.perf_counter() - began
        db.session.remove()
    return elapsed, len(report.rows)


def run_bare(conn: Any, statements: list[tuple[str, Any]]) -> float:
    began = time.perf_counter()
    with conn.cursor() as cur:
        for sql, parameters in statements:
            cur.execute(sql, parameters)
            if cur.description is not None:
                cur.fetchall()
    conn.rollback()
    return time.perf_counter() - began


_CST = dt.timezone(dt.timedelta(hours=8))


def seq_scans(conn: Any, statements: list[tuple[str, Any]]) -> list[str]:
    """Statements whose plan reads a journal table with a sequential scan."""
    found = []
    with conn.cursor() as cur:
        for sql, parameters in statements:
            cur.execute("EXPLAIN (FORMAT JSON) " + sql, parameters)
            row = cur.fetchone()
            plan = row[0] if isinstance(row[0], list) else json.loads(row[0])
            for table in ("ledger_transaction", "ledger_line"):
                if _seq(plan[0]["Plan"], table):
                    found.append(f"{table}: {sql[:80]}")
    conn.rollback()
    return found


def _seq(plan: dict[str, Any], table: str) -> bool:
    if plan.get("Node Type") == "Seq Scan" and plan.get("Relation Name") == table:
        return True
    return any(_seq(child, table) for child in plan.get("Plans", ()))


def measure(
    url: str, repeat: int, *, verbose: bool = False, only: frozenset[str] = frozenset()
) -> list[str]:
    import psycopg
    from sqlalchemy import event

    from app import create_app
    from app.db import db
    from app.reports.base import ReportParams

    app = create_app(config(url))
    # The statements are recorded from a twin app with the prepared executor off: a
    # statement on the raw cursor (the birthdays' rows) passes no SQLAlchemy event, and
    # the SQL and its parameters are the same either way.
    recording = create_app({**config(url), "DB_PREPARED_STATEMENTS": False})
    recorder = Recorder()
    with recording.app_context():
        event.listen(db.engine, "before_cursor_execute", recorder)
    figures: list[str] = []
    ratios: dict[str, float] = {}
    scans: list[str] = []
    conn = psycopg.connect(conninfo(url))
    month = ReportParams(*MONTH, None, language="zh-Hans")
    for name, fn in sorted(reports().items()):
        if only and name not in only:
            continue
        for variant, params in (("page", month), ("csv", dataclasses.replace(month, page=None))):
            for warmed in (app, recording):  # the caches: statements, the texts' overrides
                run_ours(warmed, fn, params)
            recorder.statements, recorder.on = [], True
            _, rows = run_ours(recording, fn, params)  # records the SQL a warm report sends
            recorder.on = False
            statements = list(recorder.statements)
            if verbose:
                for sql, _ in statements:
                    print("   ", " ".join(sql.split())[:150], flush=True)
            ours, bare = [], []
            for _ in range(repeat):
                ours.append(run_ours(app, fn, params)[0])
                bare.append(run_bare(conn, statements))
            ours_s, bare_s = statistics.median(ours), statistics.median(bare)
            ratio = bare_s / ours_s if ours_s else 0.0
            ratios[f"{name}_{variant}"] = ratio
            print(
                f"{name:17s} {variant:4s} rows {rows:7d}  statements {len(statements)}  "
                f"report {ours_s * 1000:8.1f} ms  bare SQL {bare_s * 1000:8.1f} ms  "
                f"ratio {ratio:.2f}",
                flush=True,
            )
            key = name.replace("-", "_")
            figures.append(f"figure reports_{key}_{variant}_ms {ours_s * 1000:.1f} ms")
            figures.append(f"figure reports_{key}_{variant}_bare_ms {bare_s * 1000:.1f} ms")
            figures.append(f"figure reports_{key}_{variant}_ratio {ratio:.2f} ratio")
            if variant == "csv":
                scans += [f"{name}: {s}" for s in seq_scans(conn, statements)]
    conn.close()
    for scan in scans:
        print(f"sequential scan of the journal: {scan}", flush=True)
    worst = min(ratios, key=lambda k: ratios[k])
    figures.append(f"figure reports_journal_seq_scans {len(scans)} statements")
    figures.append(f"figure reports_worst_ratio {ratios[worst]:.2f} ratio")
    print(f"worst: {worst}", flush=True)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--small",
        action="store_true",
        default=os.environ.get("BENCH_REPORTS_SMALL", "") not in ("", "0"),
        help="a tenth of the data (100k members, 500k journal lines)",
    )
    parser.add_argument("--months", type=int, default=24, help="months of journal")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs of each")
    parser.add_argument("--keep", action="store_true", help="keep the schema (and print it)")
    parser.add_argument(
        "--reuse",
        metavar="SCHEMA",
        help="measure a schema an earlier --keep run built (kept; its size is that run's)",
    )
    parser.add_argument("--verbose", action="store_true", help="print each report's SQL")
    parser.add_argument(
        "--only", default="", help="these reports only (names, comma-separated), e.g. to profile"
    )
    args = parser.parse_args()
    only = frozenset(filter(None, args.only.split(",")))
    if only - set(reports()):
        parser.error(f"no report named {', '.join(sorted(only - set(reports())))}")
    import psycopg
    from sqlalchemy.engine import make_url

    members, lines = (100_000, 500_000) if args.small else (1_000_000, 5_000_000)
    schema = args.reuse or f"bench_reports_{os.getpid()}"
    if not schema.isidentifier():
        parser.error(f"{schema!r} is not a schema name")
    base = make_url(PG_URL)
    admin = conninfo(base.render_as_string(hide_password=False))
    url = base.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
        hide_password=False
    )
    if args.reuse:
        # Measuring again after a change to the code costs no rebuild (about a minute).
        print(f"measuring the kept schema {schema}", flush=True)
        for line in measure(url, args.repeat, verbose=args.verbose, only=only):
            print(line, flush=True)
        return
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        began = time.monotonic()
        build(url, members, lines, args.months)
        built = time.monotonic() - began
        print(f"built {members} members and {lines} journal lines in {built:.0f} s", flush=True)
        measured = measure(url, args.repeat, verbose=args.verbose, only=only)
        figures = [f"figure reports_build_s {built:.0f} s", *measured]
    finally:
        if args.keep:
            print(f"kept schema {schema}")
        else:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    for line in figures:
        print(line, flush=True)


if __name__ == "__main__":
    main()
