"""Birthdays (生日提醒): members whose birthday falls in the range, solar and lunar (农历).

A lunar birthday is shown on its solar date in the range, by the rules of
``app.members.birthdays`` (a leap-month birthday in a year without that leap month is kept
in the ordinary month; lunar day 30 in a 29-day month on day 29; a solar Feb 29 on Feb 28
in a common year). The database narrows the members to the (month, day) pairs that can
fall in the range; each is then placed exactly. A long range can hold two of a member's
birthdays: each is a row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from itertools import islice
from typing import Any

from lunardate import LunarDate
from sqlalchemy import and_, func, literal, literal_column, or_, select, true
from sqlalchemy.orm import Session

from app.db.prepared import Prepared
from app.i18n import gettext
from app.members.birthdays import solar_birthday
from app.members.models import Level, Member, level_name_sql
from app.reports.base import Column, Report, ReportParams
from app.reports.common import days
from app.stores.models import Store

#: A stated birthday: (calendar, month, day, leap month).
Key = tuple[str, int, int, bool]


@dataclass
class _Birthday:
    """A stated birthday without its member, as ``solar_birthday`` reads one."""

    birthday_month: int | None
    birthday_day: int | None
    birthday_calendar: str
    lunar_leap_month: bool


def _candidates(params: ReportParams) -> tuple[set[int], set[int]]:
    """``month * 100 + day`` of solar and of lunar birthdays that may fall in the range."""
    solar: set[int] = set()
    lunar: set[int] = set()
    for day in days(params):
        solar.add(day.month * 100 + day.day)
        if day.month == 2 and day.day == 28:
            solar.add(229)  # kept on Feb 28 in a common year
        try:
            found = LunarDate.from_solar_date(day.year, day.month, day.day)
        except ValueError:
            continue  # outside lunardate's tables (before 1900-01-31, after 2099)
        lunar.add(found.month * 100 + found.day)
        if found.day == 29:
            lunar.add(found.month * 100 + 30)  # day 30 kept on day 29
    return solar, lunar


@lru_cache(maxsize=4096)  # a month's thousands of birthdays repeat a few thousand texts
def _stated(year: int | None, month: int, day: int) -> str:
    return f"{year:04d}-{month:02d}-{day:02d}" if year else f"{month:02d}-{day:02d}"


def _placed(key: Key, params: ReportParams) -> list[dt.date]:
    """The solar dates in the range that a birthday of ``key`` falls on (one a year)."""
    calendar, month, day, leap = key
    birthday = _Birthday(month, day, calendar, leap)
    years = range(params.date_from.year - 1, params.date_to.year + 1)
    placed = {solar_birthday(birthday, year) for year in years}
    return sorted(d for d in placed if d is not None and params.date_from <= d <= params.date_to)


def _one_of(column: Any, values: set[int] | frozenset[int]) -> Any:
    """``column IN (…)`` with the integers written into the SQL: no parameters to expand,
    so the statement compiles once for the raw cursor."""
    return column.in_([literal_column(str(int(v))) for v in sorted(values)])


def report(session: Session, params: ReportParams) -> Report:
    solar, lunar = _candidates(params)
    month_day = Member.birthday_month * 100 + Member.birthday_day
    by_name: Any = func.coalesce(Member.name, "")
    if session.get_bind().dialect.name == "postgresql":
        by_name = by_name.collate("C")  # code-point order, as Python compares text (SQLite's own)
    query = (
        select(
            Member.name,
            Member.phone,
            Store.name,
            Store.code,
            Member.birthday_year,
            Member.birthday_month,
            Member.birthday_day,
            Member.birthday_calendar,
            Member.lunar_leap_month,
            level_name_sql(literal(params.language)),
        )
        .outerjoin(Store, Store.id == Member.home_store_id)
        .outerjoin(Level, Level.id == Member.level_id)
        .where(
            _one_of(Member.home_store_id, params.store_ids) if params.store_ids else true(),
            Member.birthday_month.is_not(None),
            Member.birthday_day.is_not(None),
            or_(
                and_(Member.birthday_calendar == "solar", _one_of(month_day, solar)),
                and_(Member.birthday_calendar == "lunar", _one_of(month_day, lunar or {0})),
            ),
        )
        .order_by(by_name, Member.phone)
    )
    # A month holds thousands of birthdays but a few dozen distinct ones: each (calendar,
    # month, day, leap) is placed once. The rows come by name and phone, so each day's
    # list keeps that order and the days in order are the report's order; only the page's
    # rows become dicts.
    placed: dict[Key, list[dt.date]] = {}
    on_day: dict[dt.date, list[Any]] = {}
    lunar_count = 0
    # A month at full size holds 78,000 birthdays: SQLAlchemy's row objects were a third
    # of the report's time (docs/benchmarks.md). The columns are text and integers, which
    # the driver gives as they are, so the rows come through the prepared executor
    # (``DB_PREPARED_STATEMENTS``; off, SQLAlchemy runs it: tests/reports run both).
    session.flush()
    for row in Prepared(query).rows(session.connection(), {}):
        key = (row[7], row[5], row[6], row[8])
        if key not in placed:
            placed[key] = _placed(key, params)
        for day in placed[key]:
            on_day.setdefault(day, []).append(row)
            lunar_count += row[7] == "lunar"
    total = sum(len(members) for members in on_day.values())
    in_order: Iterator[tuple[dt.date, Any]] = (
        (day, row) for day in sorted(on_day) for row in on_day[day]
    )
    if params.page is not None:
        first = (params.page - 1) * params.page_size
        in_order = islice(in_order, first, first + params.page_size)
    calendars = {
        ("solar", False): gettext("Solar"),
        ("solar", True): gettext("Solar"),
        ("lunar", False): gettext("Lunar"),
        ("lunar", True): gettext("Lunar, leap month"),
    }
    rows = [
        {
            "day": day,
            "name": name or "",
            "phone": phone,
            "store": f"{store} ({code})" if code is not None else "",
            "calendar": calendars[calendar, bool(leap)],
            "stated": _stated(year, month, day_of_month),
            "level": level or "",
        }
        for day, (name, phone, store, code, year, month, day_of_month, calendar, leap, level) in (
            in_order
        )
    ]
    return Report(
        name="birthdays",
        title=gettext("Birthdays"),
        columns=[
            Column("day", gettext("Birthday this time"), "date"),
            Column("name", gettext("Name")),
            Column("phone", gettext("Phone")),
            Column("store", gettext("Home store")),
            Column("calendar", gettext("Calendar")),
            Column("stated", gettext("Birthday as given")),
            Column("level", gettext("Level")),
        ],
        rows=rows,
        total_rows=total,
        summary=[
            (gettext("Birthdays"), total, "count"),
            (gettext("Of which lunar"), lunar_count, "count"),
        ],
    )
