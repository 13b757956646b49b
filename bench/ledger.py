"""Checkouts per second through the ledger's service layer, beside a raw baseline.

For each database (PostgreSQL, SQLite) and each number of concurrent clients
(1 and 4, separate processes), two loops share ``--seconds`` each on the same
freshly made schema, in alternating slices run by every client in lockstep
(so a change in the machine's load hits both alike):

- ``service``: what one API checkout costs below HTTP: a unit of work (one
  commit), the card looked up by number as the API's view does (the store is
  the caller's key's), ``app.ledger.operations.checkout``
  paying 10.00 yuan from stored value (rules quote, journal posting with its
  idempotency key, points lot, growth, the ``transaction_posted`` receivers).
- ``journal``: the same posting through the journal's API (``find_posted``,
  ``lock_card_accounts``, ``journal.post``) in a unit of work: the ledger's own
  layer, without the rules, growth and alert receivers a checkout adds.
- ``raw``: the same lock-insert-update transaction written directly with
  psycopg / sqlite3: lock the card's accounts, insert the transaction, the
  checked debit, the points credit, the four lines and the points lot, commit.

Each client has its own card, as counters serve different customers. PostgreSQL
(``BENCH_POSTGRES_URL``, else ``TEST_POSTGRES_URL``, else the local ``test``
database) gets a fresh schema, dropped after; SQLite a temporary file.
Bounded: every loop stops after ``--seconds`` or ``--max`` checkouts. Prints
``figure NAME VALUE UNIT`` lines, the ratios last: ``ledger_pg_ratio_c1`` /
``_c4`` and ``ledger_sqlite_ratio_c1`` / ``_c4`` (checkout / raw at 1 and 4
clients; targets 0.40 on PostgreSQL, 0.20 on SQLite), ``..._journal_ratio_cN``
(posting / raw), and ``ledger_pg_ratio`` / ``ledger_sqlite_ratio`` (the worse
of the two client counts).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PG_URL = os.environ.get(
    "BENCH_POSTGRES_URL",
    os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"),
)
AMOUNT_FEN = 1000
PRELOAD_FEN = 10**11


def _config(url: str) -> dict[str, Any]:
    return {
        "LAOYOU_ENV": "testing",
        "SECRET_KEY": "bench-secret-key-that-is-long-enough-0000",
        "DATABASE_URL": url,
        # One preload carries every checkout of the run: far above a real sale's maximum.
        "MAX_TRANSACTION_FEN": PRELOAD_FEN,
        # The seam of issue 10: LEDGER_FUSED_CARD_READ=false in the environment measures
        # the plain path (the card through app.cards' own query).
        "LEDGER_FUSED_CARD_READ": os.environ.get("LEDGER_FUSED_CARD_READ", "true"),
    }


def setup(url: str, clients: int) -> tuple[int, list[int]]:
    """A fresh schema with one store and a member card per client, preloaded."""
    from app import create_app
    from app.cards.services import enroll, member_cards
    from app.db import Base, db, unit_of_work
    from app.ledger.journal import ensure_system_accounts
    from app.ledger.operations import load_value
    from app.stores.services import create_store

    app = create_app(_config(url))
    with app.app_context():
        Base.metadata.drop_all(db.engine)
        Base.metadata.create_all(db.engine)
        with unit_of_work():
            ensure_system_accounts()
            store = create_store("SH01", "Bench", "East")
            cards = []
            for n in range(clients):
                member = enroll({"phone": f"+86138001{n:05d}", "home_store": "SH01"})
                card = member_cards(member)[0]
                load_value(card, PRELOAD_FEN, idempotency_key=f"bench-load-{n}", actor="bench")
                cards.append(card.id)
            ids = store.id, cards
        db.engine.dispose()
    return ids


# --- the two loops, run by each client process in turns ---------------------------------


class ServiceClient:
    """Checkouts through the service layer, one unit of work (one request) each."""

    def __init__(self, url: str, store_id: int, card_id: int) -> None:
        from app import create_app
        from app.cards.models import Card
        from app.db import db
        from app.stores.models import Store

        self.app = create_app(_config(url))
        with self.app.app_context():
            # The API has the store from the caller's key; it is not the ledger's cost.
            self.store = db.session.get(Store, store_id)
            db.session.expunge(self.store)
            self.number = db.session.get(Card, card_id).number

    def run(self, end: float, cap: int) -> int:
        from app.db import unit_of_work
        from app.ledger.operations import checkout_card

        done = 0
        while time.monotonic() < end and done < cap:
            with self.app.app_context(), unit_of_work():
                # As the API's view: the card from the number the POS sent.
                checkout_card(
                    self.number,
                    self.store,
                    AMOUNT_FEN,
                    "stored_value",
                    key=uuid.uuid4().hex,
                    actor="bench",
                )
            done += 1
        return done


RAW_LOCK = (
    "SELECT id, asset, balance FROM ledger_account WHERE card_id = {p} "
    "AND asset IN ('points', 'stored_value_paid', 'stored_value_bonus', 'visits') ORDER BY id"
)
RAW_TXN = (
    "INSERT INTO ledger_transaction (kind, idempotency_key, request_hash, store_id, card_id, "
    "member_id, amount_fen, discount_fen, charged_fen, details, created_at) "
    "VALUES ('checkout', {p}, {p}, {p}, {p}, NULL, {p}, 0, {p}, '{{}}', {p}) RETURNING id"
)
RAW_DEBIT = (
    "UPDATE ledger_account SET balance = balance + {p} WHERE id = {p} "
    "AND balance + {p} >= 0 RETURNING balance"
)
RAW_CREDIT = "UPDATE ledger_account SET balance = balance + {p} WHERE id = {p} RETURNING balance"
RAW_LINES = (
    "INSERT INTO ledger_line (transaction_id, account_id, asset, amount, balance_after) VALUES "
    "({p}, {p}, 'stored_value_paid', {p}, {p}), ({p}, {spent}, 'stored_value_paid', {p}, NULL), "
    "({p}, {p}, 'points', {p}, {p}), ({p}, {issued}, 'points', {p}, NULL) RETURNING id, account_id"
)
RAW_LOT = (
    "INSERT INTO points_lot (account_id, line_id, amount, remaining, earned_at) "
    "VALUES ({p}, {p}, {p}, {p}, {p})"
)


class JournalClient:
    """The same posting as ``raw`` through the journal's API: idempotency check, locked
    accounts, one ``journal.post`` (checked debit, points credit and lot, lines), one
    commit; no rules, growth or alert receivers (those are the checkout's, above)."""

    def __init__(self, url: str, store_id: int, card_id: int) -> None:
        from app import create_app

        self.app = create_app(_config(url))
        self.store_id, self.card_id = store_id, card_id

    def run(self, end: float, cap: int) -> int:
        from app.db import unit_of_work
        from app.ledger import journal
        from app.ledger.journal import Entry
        from app.ledger.operations import CARD_ASSETS

        card_id, points = self.card_id, AMOUNT_FEN // 100
        entries = [
            Entry("stored_value_paid", -AMOUNT_FEN, card_id=card_id),
            Entry("stored_value_paid", AMOUNT_FEN, system="spent"),
            Entry("points", points, card_id=card_id, expires_on=None),
            Entry("points", -points, system="issued"),
        ]
        done = 0
        while time.monotonic() < end and done < cap:
            with self.app.app_context(), unit_of_work():
                key = uuid.uuid4().hex
                request = {"card": card_id, "amount_fen": AMOUNT_FEN}
                journal.find_posted(key, journal.request_hash(request))
                locked = journal.lock_card_accounts([card_id], CARD_ASSETS)
                journal.post(
                    "checkout",
                    key,
                    entries,
                    request=request,
                    store_id=self.store_id,
                    card_id=card_id,
                    amount_fen=AMOUNT_FEN,
                    charged_fen=AMOUNT_FEN,
                    accounts=locked,
                    key_checked=True,
                )
            done += 1
        return done


class RawClient:
    """The posting's essential statements, by hand, in one transaction per checkout."""

    def __init__(self, url: str, store_id: int, card_id: int) -> None:
        from app.ledger.models import system_account_id

        self.store_id, self.card_id = store_id, card_id
        if url.startswith("sqlite"):
            import sqlite3

            self.conn: Any = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
            self.conn.execute("PRAGMA foreign_keys=ON")
            self.conn.execute("PRAGMA busy_timeout=10000")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            p, self.begin, lock, self.aware = "?", "BEGIN IMMEDIATE", "", False
        else:
            import psycopg

            self.conn = psycopg.connect(_conninfo(url), autocommit=True)
            p, self.begin, lock, self.aware = "%s", "BEGIN", " FOR UPDATE", True
        spent = system_account_id("spent", "stored_value_paid")
        issued = system_account_id("issued", "points")
        self.q = {name: sql.format(p=p, spent=spent, issued=issued) for name, sql in _RAW.items()}
        self.q["lock"] += lock

    def run(self, end: float, cap: int) -> int:
        import datetime as dt

        q, card_id, points = self.q, self.card_id, AMOUNT_FEN // 100
        done = 0
        while time.monotonic() < end and done < cap:
            cur = self.conn.cursor()
            cur.execute(self.begin)
            accounts = {a: i for i, a, _ in cur.execute(q["lock"], (card_id,)).fetchall()}
            now = dt.datetime.now(dt.UTC)
            now = now if self.aware else now.replace(tzinfo=None)
            key = uuid.uuid4().hex
            txn = cur.execute(
                q["txn"], (key, key, self.store_id, card_id, AMOUNT_FEN, AMOUNT_FEN, now)
            ).fetchone()[0]
            paid, pts = accounts["stored_value_paid"], accounts["points"]
            after = cur.execute(q["debit"], (-AMOUNT_FEN, paid, -AMOUNT_FEN)).fetchone()[0]
            points_after = cur.execute(q["credit"], (points, pts)).fetchone()[0]
            lines = cur.execute(
                q["lines"],
                (
                    txn,
                    paid,
                    -AMOUNT_FEN,
                    after,
                    txn,
                    AMOUNT_FEN,
                    txn,
                    pts,
                    points,
                    points_after,
                    txn,
                    -points,
                ),
            ).fetchall()
            line_id = next(i for i, account in lines if account == pts)
            cur.execute(q["lot"], (pts, line_id, points, points, now))
            cur.execute("COMMIT")
            cur.close()
            done += 1
        return done


def client_process(
    url: str,
    store_id: int,
    card_id: int,
    barrier: Any,
    rounds: int,
    slice_s: float,
    cap: int,
    out: Any,
) -> None:
    """Alternate raw and service slices in lockstep with the other clients (same load for both)."""
    clients = {
        "raw": RawClient(url, store_id, card_id),
        "journal": JournalClient(url, store_id, card_id),
        "service": ServiceClient(url, store_id, card_id),
    }
    totals = dict.fromkeys(clients, 0)
    for _ in range(rounds):
        for name, client in clients.items():
            barrier.wait()
            totals[name] += client.run(time.monotonic() + slice_s, cap)
    out.put(totals)


_RAW = {
    "lock": RAW_LOCK,
    "txn": RAW_TXN,
    "debit": RAW_DEBIT,
    "credit": RAW_CREDIT,
    "lines": RAW_LINES,
    "lot": RAW_LOT,
}


def _wait(start: float) -> None:
    delay = start - time.monotonic()
    if delay > 0:
        time.sleep(delay)


def _conninfo(url: str) -> str:
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


def measure(
    url: str, store_id: int, cards: list[int], seconds: float, cap: int
) -> dict[str, float]:
    """Checkouts per second, raw and service, of ``len(cards)`` client processes."""
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(len(cards))
    out = ctx.Queue()
    rounds = 4
    procs = [
        ctx.Process(
            target=client_process,
            args=(url, store_id, card, barrier, rounds, seconds / rounds, cap, out),
        )
        for card in cards
    ]
    for proc in procs:
        proc.start()
    results = [out.get(timeout=120 + 4 * seconds) for _ in procs]
    for proc in procs:
        proc.join(timeout=30)
    return {kind: sum(r[kind] for r in results) / seconds for kind in results[0]}


def run_backend(name: str, url: str, seconds: float, cap: int) -> list[str]:
    """Print the rates of ``name`` as they come; return its ratio figures for the end."""
    ratios: list[str] = []
    worst = worst_journal = None
    for clients in (1, 4):
        store_id, cards = setup(url, clients)
        rates = measure(url, store_id, cards, seconds, cap)
        raw = rates["raw"]
        ratio = rates["service"] / raw if raw else 0.0
        journal_ratio = rates["journal"] / raw if raw else 0.0
        worst = ratio if worst is None else min(worst, ratio)
        worst_journal = (
            journal_ratio if worst_journal is None else min(worst_journal, journal_ratio)
        )
        for kind in ("raw", "journal", "service"):
            print(
                f"figure ledger_{name}_{kind}_c{clients} {rates[kind]:.0f} checkouts/s", flush=True
            )
        ratios.append(f"figure ledger_{name}_journal_ratio_c{clients} {journal_ratio:.2f} ratio")
        ratios.append(f"figure ledger_{name}_ratio_c{clients} {ratio:.2f} ratio")
    ratios.append(f"figure ledger_{name}_journal_ratio {worst_journal:.2f} ratio")
    ratios.append(f"figure ledger_{name}_ratio {worst:.2f} ratio")
    return ratios


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="length of each loop")
    parser.add_argument("--max", type=int, default=50000, help="checkouts per client at most")
    parser.add_argument("--only", choices=("postgresql", "sqlite"), default=None)
    args = parser.parse_args()
    ratios: list[str] = []
    if args.only in (None, "postgresql"):
        import psycopg
        from sqlalchemy.engine import make_url

        schema = f"bench_ledger_{os.getpid()}"
        base = make_url(PG_URL)
        admin = _conninfo(base.render_as_string(hide_password=False))
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        url = base.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
            hide_password=False
        )
        try:
            ratios += run_backend("pg", url, args.seconds, args.max)
        finally:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    if args.only in (None, "sqlite"):
        with tempfile.TemporaryDirectory() as tmp:
            ratios += run_backend(
                "sqlite", f"sqlite:///{tmp}/bench.sqlite3", args.seconds, args.max
            )
    # The ratios last, together: the figures the targets are about.
    for line in ratios:
        print(line, flush=True)


if __name__ == "__main__":
    main()
