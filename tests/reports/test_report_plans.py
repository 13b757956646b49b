"""No one-month ledger report reads the whole journal: each statement's plan on PostgreSQL.

Sequential scans are switched off for the EXPLAIN (``enable_seqscan = off``): on the
test's few rows PostgreSQL would rightly read whole tables, and with them off it still
does when no index can serve the statement — which is what this test is for. Every scan
of ``ledger_transaction`` or ``ledger_line`` must then be an index scan with an index
condition (a range), not a sequential scan nor a walk of a whole index. The benchmark
(``bench/reports.py``) shows the plans PostgreSQL picks by itself at 5M journal lines.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
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


def nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", ()):
        yield from nodes(child)


def journal_reads(plan: dict[str, Any]) -> list[str]:
    """Each read of a journal table: its node type, and whether a range bounds it."""
    reads = []
    for node in nodes(plan):
        if node.get("Relation Name") not in JOURNAL:
            continue
        bounded = "Index Cond" in node or any(
            "Index Cond" in child for child in nodes(node) if child is not node
        )
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
def test_no_one_month_report_reads_the_whole_journal(app: Any, name: str, case: str) -> None:
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


def test_the_check_sees_a_whole_journal_read(app: Any) -> None:
    from sqlalchemy import func, select

    from app.ledger.models import Line

    reads = journal_reads(explain(select(func.sum(Line.amount))))
    assert reads and not all(r.endswith("bounded=True") for r in reads)
