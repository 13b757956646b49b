"""What the reports share: the range as UTC instants, a UTC column's local day, scoping, paging.

Reports read in SQL and page in SQL, so a page of a million-member chain costs one page.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, func, literal, select, true
from sqlalchemy.orm import Session

from app import clock
from app.reports.base import ReportParams

#: A query of any columns (SQLAlchemy types a select by its columns).
Query = TypeVar("Query", bound=Select)  # type: ignore[type-arg]


def utc_bounds(params: ReportParams) -> tuple[dt.datetime, dt.datetime]:
    """``[start, end)``: the shop's local midnight of ``date_from`` to that after ``date_to``."""
    zone = clock.zone()
    start = dt.datetime.combine(params.date_from, dt.time(), tzinfo=zone)
    end = dt.datetime.combine(params.date_to + dt.timedelta(days=1), dt.time(), tzinfo=zone)
    return start, end


def local_day(session: Session, column: Any) -> ColumnElement[Any]:
    """The shop's local date of a UTC timestamp column, in SQL.

    PostgreSQL converts with the zone's own rules. SQLite stores naive UTC text and knows
    no zones: the zone's offset now is added (exact for zones without summer time, such
    as Asia/Shanghai, the default).
    """
    if session.get_bind().dialect.name == "postgresql":
        return func.date(func.timezone(clock.zone().key, column))
    offset = clock.local_now().utcoffset() or dt.timedelta()
    return func.date(column, literal(f"{int(offset.total_seconds()):+d} seconds"))


def as_date(value: Any) -> dt.date | None:
    """A date from SQL: PostgreSQL gives dates, SQLite ISO text."""
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def in_scope(column: Any, params: ReportParams) -> ColumnElement[bool]:
    """``column`` (a store id) within the report's stores; every row when there is no limit."""
    if params.store_ids is None:
        return true()
    return column.in_(sorted(params.store_ids))


def count_rows(session: Session, query: Query) -> int:
    """Rows of ``query`` in all (for the pager), counted by the database."""
    counted = select(func.count()).select_from(query.order_by(None).subquery())
    return int(session.scalar(counted) or 0)


def one_page(query: Query, params: ReportParams) -> Query:
    """The requested page of ``query``; the whole query when ``params.page`` is None (CSV)."""
    if params.page is None:
        return query
    return query.limit(params.page_size).offset((params.page - 1) * params.page_size)


def page_of(rows: list[dict[str, Any]], params: ReportParams) -> list[dict[str, Any]]:
    """The requested page of rows already computed in Python."""
    if params.page is None:
        return rows
    start = (params.page - 1) * params.page_size
    return rows[start : start + params.page_size]


def days(params: ReportParams) -> list[dt.date]:
    """Every local date of the range, in order."""
    count = (params.date_to - params.date_from).days + 1
    return [params.date_from + dt.timedelta(days=i) for i in range(count)]


def store_labels(session: Session, ids: set[int]) -> dict[int, str]:
    """``Name (CODE)`` of each store in ``ids``, for the rows of one page."""
    from app.stores.models import Store

    if not ids:
        return {}
    query = select(Store.id, Store.name, Store.code).where(Store.id.in_(sorted(ids)))
    return {s.id: f"{s.name} ({s.code})" for s in session.execute(query)}


#: Ids per look-up of ``members_by_id``: far below the drivers' 65,535 parameters.
ID_BATCH = 5000


def members_by_id(session: Session, ids: list[int]) -> dict[int, Any]:
    """Name, phone and home store of these members, looked up in batches: a CSV may list
    a million of them, more than one statement may carry as parameters."""
    from app.members.models import Member

    found: dict[int, Any] = {}
    for start in range(0, len(ids), ID_BATCH):
        batch = ids[start : start + ID_BATCH]
        query = select(Member.id, Member.name, Member.phone, Member.home_store_id)
        for m in session.execute(query.where(Member.id.in_(batch))):
            found[m.id] = m
    return found
