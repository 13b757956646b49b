"""The member-count trend (会员增长趋势): members at the end of each day (or week) of the range.

Members who joined before the range, plus those who joined each local day, summed up.
Ranges over ``WEEKLY_AFTER_DAYS`` days are shown by week (Monday to Sunday, cut to the
range), so a year's line has 53 points, not 366.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.i18n import gettext
from app.members.models import Member
from app.reports.base import Chart, Column, Report, ReportParams
from app.reports.common import as_date, days, in_scope, local_day, page_of, utc_bounds

WEEKLY_AFTER_DAYS = 92


def joined_per_day(session: Session, params: ReportParams) -> dict[dt.date, int]:
    """New members per local day of the range (days without any are missing)."""
    start, end = utc_bounds(params)
    day = local_day(session, Member.joined_at)
    query = (
        select(day, func.count())
        .where(
            Member.joined_at >= start,
            Member.joined_at < end,
            in_scope(Member.home_store_id, params),
        )
        .group_by(day)
    )
    found: dict[dt.date, int] = {}
    for value, n in session.execute(query):
        when = as_date(value)
        if when is not None:
            found[when] = found.get(when, 0) + int(n)
    return found


def report(session: Session, params: ReportParams) -> Report:
    start, _end = utc_bounds(params)
    before = int(
        session.scalar(
            select(func.count())
            .select_from(Member)
            .where(Member.joined_at < start, in_scope(Member.home_store_id, params))
        )
        or 0
    )
    per_day = joined_per_day(session, params)
    weekly = (params.date_to - params.date_from).days + 1 > WEEKLY_AFTER_DAYS
    rows: list[dict[str, Any]] = []
    running = before
    for day in days(params):
        running += per_day.get(day, 0)
        if weekly and rows and day.weekday() != 0:
            rows[-1]["new"] += per_day.get(day, 0)
            rows[-1]["members"] = running
            continue
        rows.append({"day": day, "new": per_day.get(day, 0), "members": running})
    return Report(
        name="member-trend",
        title=gettext("Member-count trend"),
        columns=[
            Column("day", gettext("Week from") if weekly else gettext("Day"), "date"),
            Column("new", gettext("New members"), "count"),
            Column("members", gettext("Members at the end"), "count"),
        ],
        rows=page_of(rows, params),
        total_rows=len(rows),
        chart=Chart("line", "day", ("members",), rows=rows),
        summary=[
            (gettext("Members before the range"), before, "count"),
            (gettext("New members"), running - before, "count"),
            (gettext("Members at the end"), running, "count"),
        ],
    )
