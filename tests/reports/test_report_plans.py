"""No one-month ledger report reads the whole journal: each statement's plan on PostgreSQL.

The journal holds a year of transactions (8,000, two lines each, made by one INSERT …
SELECT in the test's transaction and ANALYZEd there, so the planner knows a month is a
twelfth). Sequential scans are switched off for the EXPLAIN (``enable_seqscan = off``):
on so few rows PostgreSQL would rightly read whole tables, and with them off it still
does when no index can serve the statement — which is what this test is for. Every scan
of ``ledger_transaction`` or ``ledger_line`` must then be an index scan with an index
condition (a range), not a sequential scan nor a walk of a whole index. The benchmark
(``bench/reports.py``) shows the plans PostgreSQL picks by itself at 5M journal lines.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from app.db import db
from app.reports.base import ReportParams
from app.reports.ledger_reports import LEDGER_QUERIES
from app.reports.ledger_sql import driver_sql

pytestmark = pytest.mark.postgresql_only

JOURNAL = {"ledger_transaction", "ledger_line"}
MONTH = ReportParams(dt.date(2026, 11, 1), dt.date(2026, 11, 30), None)
CASES = [
    ("first page", MONTH),
    ("csv", dataclasses.replace(MONTH, page=None)),
    ("one store", dataclasses.replace(MONTH, store_ids=frozenset({1}))),
]


@pytest.fixture
def journal_year(app: Any, make_store: Any, make_member: Any) -> None:
    """A year of journal before 2026-12-01, rolled back with the test: every transaction a
    member's, as in a shop (a journal of member-less rows would make ``member_id IS NOT
    NULL`` look like a narrow range to the planner)."""
    from app.ledger.models import system_account_id

    store = make_store("SH01")
    members = [make_member(home_store="SH01").id for _ in range(20)]
    connection = db.session.connection()
    connection.exec_driver_sql(
        "INSERT INTO ledger_transaction (id, kind, idempotency_key, request_hash, store_id, "
        "actor, member_id, amount_fen, discount_fen, charged_fen, details, created_at) "
        "SELECT 100000 + n, CASE WHEN mod(n, 3) = 0 THEN 'recharge' ELSE 'checkout' END, "
        "'plan:' || n, 'x', "
        "%(store)s, 'staff:s' || mod(n, 7), (%(members)s::int[])[mod(n, 20) + 1], "
        "1000, 0, 1000, '{}', "
        "timestamptz '2026-12-01 00:00+08' - make_interval(secs => n * 3942.0) "
        "FROM generate_series(1, 8000) AS n",
        {"store": store.id, "members": members},
    )
    connection.exec_driver_sql(
        "INSERT INTO ledger_line (transaction_id, account_id, asset, amount) "
        "SELECT 100000 + n, CASE WHEN s = 1 THEN %(issued)s ELSE %(spent)s END, 'points', "
        "CASE WHEN s = 1 THEN -10 ELSE 10 END "
        "FROM generate_series(1, 8000) AS n, generate_series(1, 2) AS s",
        {
            "issued": system_account_id("issued", "points"),
            "spent": system_account_id("spent", "points"),
        },
    )
    connection.exec_driver_sql("ANALYZE ledger_transaction")
    connection.exec_driver_sql("ANALYZE ledger_line")


def nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", ()):
        yield from nodes(child)


def ranged(node: dict[str, Any]) -> bool:
    """An index condition that bounds the read: not only ``x IS NOT NULL``, which the
    planner adds when it walks a whole index for a min() or max()."""
    condition = re.sub(r"\(?[\w.]+ IS NOT NULL\)?", "", node.get("Index Cond", ""))
    return bool(condition.strip(" ()AND"))


def journal_reads(plan: dict[str, Any]) -> list[str]:
    """Each read of a journal table: its node type, and whether a range bounds it."""
    reads = []
    for node in nodes(plan):
        if node.get("Relation Name") not in JOURNAL:
            continue
        bounded = any(ranged(n) for n in nodes(node))  # a bitmap scan's index is its child
        reads.append(f"{node['Node Type']} on {node['Relation Name']}: bounded={bounded}")
    return reads


def explain(stmt: Any, bound: dict[str, Any] | None = None) -> dict[str, Any]:
    connection = db.session.connection()
    sql, params = driver_sql(stmt, bound or {}, connection.dialect)
    connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
    try:
        found = connection.exec_driver_sql("EXPLAIN (FORMAT JSON) " + sql, params).scalar()
    finally:
        connection.exec_driver_sql("SET LOCAL enable_seqscan = on")
    plan = found if isinstance(found, list) else json.loads(found)
    return plan[0]["Plan"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("name", sorted(LEDGER_QUERIES))
@pytest.mark.parametrize("case", [c[0] for c in CASES])
def test_no_one_month_report_reads_the_whole_journal(
    journal_year: None, name: str, case: str
) -> None:
    params = dict(CASES)[case]
    checked = 0
    for label, (stmt, bound) in LEDGER_QUERIES[name](params, "postgresql").items():
        plan = explain(stmt, bound)
        reads = journal_reads(plan)
        assert all(r.endswith("bounded=True") for r in reads), (label, reads)
        assert not any(r.startswith("Seq Scan") for r in reads), (label, reads)
        checked += len(reads)
    reads_journal = name not in ("gift-redemptions", "popular-gifts", "gift-stock")
    assert (checked > 0) == reads_journal


def test_the_check_sees_a_whole_journal_read(journal_year: None) -> None:
    from sqlalchemy import func, select

    from app.ledger.models import Line

    reads = journal_reads(explain(select(func.sum(Line.amount))))
    assert reads and not all(r.endswith("bounded=True") for r in reads)
