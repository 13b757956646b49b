"""What the ledger-side reports share: the window in UTC, the store filter, paging, masking.

(``top_spenders`` and ``new_members`` are built by shape too; they, ``birthdays`` and
``inactive_members`` read their rows through :func:`execute`: their CSVs run to thousands.)

A report's range is inclusive local dates in the shop's zone (``app.clock``). It becomes
two UTC instants, so ``created_at`` is compared as stored and a one-month report is an
index range (``ix_ledger_transaction_created_at_id``), never a function of the column.

Each report module has ``report(session, params)`` and ``queries(params, dialect)``: the
statements it runs, named, each with its parameter values (``tests/reports/
test_report_plans.py`` EXPLAINs them). A statement is built once per :class:`Shape` (the
dialect, the stores, paged or not, the number of days) and kept: building one costs
SQLAlchemy more than a small report's query, so the range, the page and "today" are bound
parameters (:func:`values`) and only the store filter (integers) is written into the SQL.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    DateTime,
    Executable,
    Integer,
    Select,
    String,
    bindparam,
    case,
    false,
    func,
    literal_column,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy.orm import Session

from app import clock
from app.db import UtcDateTime
from app.errors import InvalidRequest
from app.i18n import in_language
from app.ledger.models import Transaction
from app.members.models import Member
from app.reports.base import Column, ReportParams

SelectT = TypeVar("SelectT", bound=Select[*tuple[Any, ...]])

#: The longest range a report takes: five years is every question a shop asks of it.
MAX_RANGE_DAYS = 5 * 366
#: The most rows a page may ask for (the CSV asks for every row with ``page=None``).
MAX_PAGE_SIZE = 1000
#: No range holds more pages than this; a larger number is a typo (or a probe), and would
#: overflow SQLite's integers as an OFFSET.
MAX_PAGE = 1_000_000


def check(params: ReportParams) -> None:
    """Refuse what no report can answer (a 400 at the boundary), before any SQL runs."""
    if params.date_from > params.date_to:
        raise InvalidRequest("the range starts after it ends", field="from")
    if (params.date_to - params.date_from).days >= MAX_RANGE_DAYS:
        raise InvalidRequest(f"a report covers at most {MAX_RANGE_DAYS} days", field="to")
    if params.page is not None and not 1 <= params.page <= MAX_PAGE:
        raise InvalidRequest(f"pages are numbered from 1 to {MAX_PAGE}", field="page")
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


@dataclass(frozen=True)
class Shape:
    """What changes a report's statements (anything else is a parameter value)."""

    dialect: str
    #: Sorted store ids, or None for every store.
    stores: tuple[int, ...] | None
    paged: bool
    #: Days in the range, for a per-day report; 0 for the others.
    days: int


def shape(params: ReportParams, dialect: str, *, per_day: bool = False) -> Shape:
    stores = None if params.store_ids is None else tuple(sorted(params.store_ids))
    count = len(days(params)) if per_day else 0
    return Shape(dialect, stores, params.page is not None, count)


def values(params: ReportParams, *, per_day: bool = False) -> dict[str, Any]:
    """The bound values of the statements: the range, the page, today, and for a per-day
    report each day's bounds."""
    start, end = window(params.date_from, params.date_to)
    today = clock.local_today()
    today_start, today_end = window(today, today)
    found: dict[str, Any] = {
        "start": start,
        "end": end,
        "today_start": today_start,
        "today_end": today_end,
        "limit": params.page_size,
        "offset": ((params.page or 1) - 1) * params.page_size,
    }
    for n, day in enumerate(days(params) if per_day else ()):
        found[f"day_{n}"] = day.isoformat()
        found[f"day_{n}_start"] = local_midnight(day)
        found[f"day_{n}_end"] = local_midnight(day + dt.timedelta(days=1))
    return found


def instant(name: str) -> Any:
    return bindparam(name, type_=UtcDateTime())


def in_window(column: Any, prefix: str = "") -> ColumnElement[bool]:
    """``column`` in [start, end) (``today_start``, ``today_end`` with ``prefix="today_"``)."""
    return (column >= instant(f"{prefix}start")) & (column < instant(f"{prefix}end"))


def one_of(column: Any, values: Iterable[int | str]) -> ColumnElement[bool]:
    """``column IN (1, 2)`` with the values written into the SQL, not an expanding parameter:
    SQLAlchemy rewrites the whole statement's text for an expanding one at every execution,
    which cost a small report more than its query. Only integers (store ids) and the code's
    own constants (kinds, account ids) come here, so nothing a user typed is inlined."""
    items: list[Any] = []
    for value in values:
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise TypeError(f"{value!r} cannot be written into SQL")
        if isinstance(value, str) and not value.replace("_", "").isalnum():
            raise ValueError(f"{value!r} is not a code constant")
        items.append(literal_column(str(int(value)) if isinstance(value, int) else f"'{value}'"))
    return column.in_(items) if items else false()


def transactions_in(form: Shape, *kinds: str, prefix: str = "") -> list[ColumnElement[bool]]:
    """The WHERE of the journal's transactions of ``kinds`` in the range and the stores."""
    where = [in_window(Transaction.created_at, prefix)]
    if kinds:
        where.append(one_of(Transaction.kind, kinds))
    if form.stores is not None:
        where.append(one_of(Transaction.store_id, form.stores))
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


def day_table(count: int) -> Any:
    """A subquery of (day, day_start, day_end): each local day of the range with its UTC
    bounds (parameters ``day_<n>``…), so a per-day report groups by a join on ``created_at``
    instead of converting every row's time to the local zone in SQL, which SQLite cannot."""
    parts = [
        select(
            bindparam(f"day_{n}", type_=String()).label("day"),
            instant(f"day_{n}_start").label("day_start"),
            instant(f"day_{n}_end").label("day_end"),
        )
        for n in range(count)
    ]
    # SQLite refuses a compound SELECT of more than 500 parts (SQLITE_MAX_COMPOUND_SELECT)
    # and a range may have 1,830 days: longer unions are made of unions of at most 400.
    while len(parts) > _UNION_PARTS:
        parts = [
            select(_union(parts[n : n + _UNION_PARTS]).subquery())
            for n in range(0, len(parts), _UNION_PARTS)
        ]
    return _union(parts).subquery("days")


_UNION_PARTS = 400


def _union(parts: list[Any]) -> Any:
    return parts[0] if len(parts) == 1 else union_all(*parts)


def unconverted(column: Any, dialect: str) -> Any:
    """A ``UtcDateTime`` column read without that type's move of every value to UTC, on
    PostgreSQL: the driver gives an aware datetime already (in the connection's zone: the
    same instant), and the reports show it in the shop's zone anyway. The move cost a
    month's list of new members a quarter of its time (1.8 ms of 7 for 2,715 rows).
    SQLite stores naive UTC text, which only ``UtcDateTime`` reads."""
    if dialect != "postgresql":
        return column
    return type_coerce(column, DateTime(timezone=True))


def masked_phone() -> ColumnElement[str]:
    """``+86138****8000`` in SQL (as ``app.phone.mask_phone``): the full number never leaves
    the database for a report page or its CSV."""
    length = func.length(Member.phone)
    return (
        func.substr(Member.phone, 1, length - 8) + "****" + func.substr(Member.phone, length - 3)
    ).label("member")


def paged(stmt: SelectT, form: Shape) -> SelectT:
    if not form.paged:
        return stmt
    return stmt.limit(bindparam("limit", type_=Integer())).offset(
        bindparam("offset", type_=Integer())
    )


def page_of(rows: Sequence[Any], params: ReportParams) -> list[Any]:
    """The page of rows already all in hand (aggregates of a few rows: stores, staff, days)."""
    if params.page is None:
        return list(rows)
    start = (params.page - 1) * params.page_size
    return list(rows[start : start + params.page_size])


@contextmanager
def labels(params: ReportParams) -> Iterator[Callable[..., str]]:
    """``with labels(params) as _: _("Store")``: text in the report's language."""
    from app.i18n import gettext

    with in_language(params.language):
        yield gettext


def transaction_columns(_: Callable[..., str]) -> list[Column]:
    """The columns a list of journal transactions starts with, in ``_``'s language."""
    return [
        Column("id", _("No.")),
        Column("at", _("Time"), "datetime"),
        Column("store", _("Store")),
        Column("member", _("Member")),
    ]


def dialect_of(session: Session) -> str:
    return session.connection().dialect.name


def execute(session: Session, stmt: Executable, bound: dict[str, Any]) -> Sequence[Any]:
    """Every row of one of a report's statements, fetched at once as Core rows.

    A report selects plain columns: the ORM's handling of the statement and of each row
    cost a tenth of a millisecond a statement, as much as a gift report's query at a tenth
    of the full size. The session is flushed first, as its own ``execute`` would.
    """
    session.flush()
    return session.connection().execute(stmt, bound).all()


def driver_sql(stmt: Any, bound: dict[str, Any], dialect: Any) -> tuple[str, dict[str, Any]]:
    """The statement's SQL for ``dialect`` and its parameters (the plan test EXPLAINs it;
    PostgreSQL's driver takes the values as they are)."""
    compiled = stmt.compile(dialect=dialect)
    return compiled.string, dict(compiled.construct_params(bound))
