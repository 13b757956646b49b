"""Every report of the registry, run for one month: no statement it sends reads the whole
journal. The statements are recorded as the driver receives them and EXPLAINed on
PostgreSQL, over the same year of journal as ``test_report_plans`` (whose per-statement
check this reuses); this one catches a report whose SQL is not in ``LEDGER_QUERIES``.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import current_app
from sqlalchemy import event

from app.db import db
from app.reports.registry import REPORTS
from tests.reports.test_report_plans import CASES, journal_reads, journal_year  # noqa: F401

pytestmark = pytest.mark.postgresql_only


@contextmanager
def recorded() -> Iterator[list[tuple[str, Any]]]:
    statements: list[tuple[str, Any]] = []

    def keep(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        statements.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", keep)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", keep)


def explain_sent(statement: str, parameters: Any) -> dict[str, Any]:
    connection = db.session.connection()
    connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
    try:
        found = connection.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, parameters)
        plan = found.scalar()
    finally:
        connection.exec_driver_sql("SET LOCAL enable_seqscan = on")
    plan = plan if isinstance(plan, list) else json.loads(plan)
    return plan[0]["Plan"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("name", sorted(REPORTS))
@pytest.mark.parametrize("case", [c[0] for c in CASES])
def test_no_report_of_the_registry_reads_the_whole_journal(
    journal_year: None,  # noqa: F811
    name: str,
    case: str,
) -> None:
    params = dataclasses.replace(dict(CASES)[case], language="en")
    # Through SQLAlchemy, so that every statement passes its events with its parameters:
    # the prepared executor's (the birthdays' rows) would not; the SQL is the same.
    current_app.extensions["laoyou.db"].prepared = False
    with recorded() as statements:
        REPORTS[name].run(db.session, params)
    selects = [(s, p) for s, p in statements if s.lstrip().upper().startswith(("SELECT", "WITH"))]
    assert any("message_text" not in s for s, _ in selects), name  # the report's own
    for statement, parameters in selects:
        reads = journal_reads(explain_sent(statement, parameters))
        assert all(r.endswith("bounded=True") for r in reads), (statement[:300], reads)
