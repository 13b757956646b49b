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
from typing import Any

from lunardate import LunarDate
from sqlalchemy import and_, literal, or_, select
from sqlalchemy.orm import Session

from app.i18n import gettext
from app.members.birthdays import solar_birthday
from app.members.models import Level, Member, level_name_sql
from app.reports.base import Column, Report, ReportParams
from app.reports.common import days, in_scope, page_of, store_labels


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


def _stated(row: Any) -> str:
    month_day = f"{row.birthday_month:02d}-{row.birthday_day:02d}"
    return f"{row.birthday_year:04d}-{month_day}" if row.birthday_year else month_day


def _calendar(row: Any) -> str:
    if row.birthday_calendar != "lunar":
        return gettext("Solar")
    return gettext("Lunar, leap month") if row.lunar_leap_month else gettext("Lunar")


def report(session: Session, params: ReportParams) -> Report:
    solar, lunar = _candidates(params)
    month_day = Member.birthday_month * 100 + Member.birthday_day
    query = (
        select(
            Member.name,
            Member.phone,
            Member.home_store_id,
            Member.birthday_year,
            Member.birthday_month,
            Member.birthday_day,
            Member.birthday_calendar,
            Member.lunar_leap_month,
            level_name_sql(literal(params.language)).label("level"),
        )
        .outerjoin(Level, Level.id == Member.level_id)
        .where(
            in_scope(Member.home_store_id, params),
            Member.birthday_month.is_not(None),
            Member.birthday_day.is_not(None),
            or_(
                and_(Member.birthday_calendar == "solar", month_day.in_(sorted(solar))),
                and_(Member.birthday_calendar == "lunar", month_day.in_(sorted(lunar or {0}))),
            ),
        )
    )
    found: list[tuple[dt.date, Any]] = []
    years = range(params.date_from.year - 1, params.date_to.year + 1)
    for row in session.execute(query):
        placed = {solar_birthday(row, year) for year in years}
        found += [
            (day, row)
            for day in sorted(d for d in placed if d is not None)
            if params.date_from <= day <= params.date_to
        ]
    found.sort(key=lambda pair: (pair[0], pair[1].name or "", pair[1].phone))
    stores = store_labels(session, {row.home_store_id for _day, row in found})
    rows = [
        {
            "day": day,
            "name": row.name or "",
            "phone": row.phone,
            "store": stores.get(row.home_store_id, ""),
            "calendar": _calendar(row),
            "stated": _stated(row),
            "level": row.level or "",
        }
        for day, row in found
    ]
    lunar_count = sum(1 for _day, row in found if row.birthday_calendar == "lunar")
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
        rows=page_of(rows, params),
        total_rows=len(rows),
        summary=[
            (gettext("Birthdays"), len(rows), "count"),
            (gettext("Of which lunar"), lunar_count, "count"),
        ],
    )
