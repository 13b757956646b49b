"""What the ledger-side reports share: the window in UTC, the store filter, paging, masking.

A report's range is inclusive local dates in the shop's zone (``app.clock``). It becomes
two UTC instants, so ``created_at`` is compared as stored and a one-month report is an
index range (``ix_ledger_transaction_created_at_id``), never a function of the column.

Each report module has ``queries(params, dialect) -> dict[str, Executable]`` (the
statements it runs, named; ``bench/reports.py`` runs them bare and
``tests/reports/test_report_plans.py`` EXPLAINs them) and ``report(session, params)``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, String, case, func, literal, select, union_all
from sqlalchemy.orm import Session

from app import clock
from app.db import UtcDateTime
from app.errors import InvalidRequest
from app.i18n import in_language
from app.ledger.models import Transaction
from app.members.models import Member
from app.reports.base import ReportParams

SelectT = TypeVar("SelectT", bound=Select[*tuple[Any, ...]])

#: The longest range a report takes: five years is every question a shop asks of it.
MAX_RANGE_DAYS = 5 * 366
#: The most rows a page may ask for (the CSV asks for every row with ``page=None``).
MAX_PAGE_SIZE = 1000


def check(params: ReportParams) -> None:
    """Refuse what no report can answer (a 400 at the boundary), before any SQL runs."""
    if params.date_from > params.date_to:
        raise InvalidRequest("the range starts after it ends", field="from")
    if (params.date_to - params.date_from).days >= MAX_RANGE_DAYS:
        raise InvalidRequest(f"a report covers at most {MAX_RANGE_DAYS} days", field="to")
    if params.page is not None and params.page < 1:
        raise InvalidRequest("pages are numbered from 1", field="page")
    if not 1 <= params.page_size <= MAX_PAGE_SIZE:
        raise InvalidRequest(f"a page holds 1 to {MAX_PAGE_SIZE} rows", field="page_size")
    window(params.date_from, params.date_to)  # a date the zone cannot place is refused here


def local_midnight(day: dt.date) -> dt.datetime:
    """The UTC instant the local ``day`` begins."""
    try:
        return dt.datetime.combine(day, dt.time.min, tzinfo=clock.zone()).astimezone(dt.UTC)
    except (OverflowError, ValueError) as exc:
        raise InvalidRequest(f"{day.isoformat()} is out of range", field="from") from exc


def window(date_from: dt.date, date_to: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) in UTC of the inclusive local dates."""
    try:
        after = date_to + dt.timedelta(days=1)
    except OverflowError as exc:
        raise InvalidRequest(f"{date_to.isoformat()} is out of range", field="to") from exc
    return local_midnight(date_from), local_midnight(after)


def in_window(column: Any, params: ReportParams) -> ColumnElement[bool]:
    start, end = window(params.date_from, params.date_to)
    return (column >= start) & (column < end)


def transactions_in(params: ReportParams, *kinds: str) -> list[ColumnElement[bool]]:
    """The WHERE of the journal's transactions of ``kinds`` in the range and the stores."""
    where = [in_window(Transaction.created_at, params)]
    if kinds:
        where.append(
            Transaction.kind == kinds[0] if len(kinds) == 1 else Transaction.kind.in_(kinds)
        )
    if params.store_ids is not None:
        where.append(Transaction.store_id.in_(sorted(params.store_ids)))
    return where


def count_of(kind: str) -> Any:
    """How many of the group's transactions are of ``kind`` (one pass for every kind)."""
    return func.count(case((Transaction.kind == kind, 1)))


def sum_of(kind: str, column: Any) -> Any:
    return func.coalesce(func.sum(case((Transaction.kind == kind, column), else_=0)), 0)


def days(params: ReportParams) -> list[dt.date]:
    return [
        params.date_from + dt.timedelta(days=n)
        for n in range((params.date_to - params.date_from).days + 1)
    ]


def day_table(params: ReportParams) -> Any:
    """A subquery of (day, day_start, day_end): each local day of the range with its UTC
    bounds, so a per-day report groups by a join on ``created_at`` (an index range per day)
    instead of converting every row's time to the local zone in SQL, which SQLite cannot."""
    parts = [
        select(
            literal(day.isoformat(), String).label("day"),
            literal(local_midnight(day), UtcDateTime()).label("day_start"),
            literal(local_midnight(day + dt.timedelta(days=1)), UtcDateTime()).label("day_end"),
        )
        for day in days(params)
    ]
    return (parts[0] if len(parts) == 1 else union_all(*parts)).subquery("days")


def masked_phone() -> ColumnElement[str]:
    """``+86138****8000`` in SQL (as ``app.phone.mask_phone``): the full number never leaves
    the database for a report page or its CSV."""
    length = func.length(Member.phone)
    return (
        func.substr(Member.phone, 1, length - 8) + "****" + func.substr(Member.phone, length - 3)
    ).label("member")


def paged(stmt: SelectT, params: ReportParams) -> SelectT:
    if params.page is None:
        return stmt
    return stmt.limit(params.page_size).offset((params.page - 1) * params.page_size)


def page_of(rows: Sequence[Any], params: ReportParams) -> list[Any]:
    """The page of rows already all in hand (aggregates of a few rows: stores, staff, days)."""
    if params.page is None:
        return list(rows)
    start = (params.page - 1) * params.page_size
    return list(rows[start : start + params.page_size])


def local(moment: dt.datetime | None) -> dt.datetime | None:
    return None if moment is None else clock.to_local(moment)


@contextmanager
def labels(params: ReportParams) -> Iterator[Callable[..., str]]:
    """``with labels(params) as _: _("Store")``: text in the report's language."""
    from app.i18n import gettext

    with in_language(params.language):
        yield gettext


def dialect_of(session: Session) -> str:
    return session.connection().dialect.name


def execute(session: Session, stmt: Any) -> list[Any]:
    return list(session.execute(stmt))


def driver_sql(stmt: Any, dialect: Any) -> tuple[str, dict[str, Any]]:
    """The statement as its driver receives it (SQL text and parameters, ``IN`` lists
    expanded): what ``bench/reports.py`` runs bare and the plan test EXPLAINs."""
    compiled = stmt.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    return compiled.string, dict(compiled.params)
