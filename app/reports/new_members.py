"""New members (新增会员): who joined in the range, at which store; a chart per day."""

from __future__ import annotations

from typing import Any

from sqlalchemy import literal, select
from sqlalchemy.orm import Session

from app.i18n import gettext
from app.members.models import Level, Member, level_name_sql
from app.reports.base import Chart, Column, Report, ReportParams
from app.reports.common import days, in_scope, one_page, utc_bounds
from app.reports.member_trend import joined_per_day
from app.stores.models import Store


def report(session: Session, params: ReportParams) -> Report:
    start, end = utc_bounds(params)
    query = (
        select(
            Member.joined_at,
            Member.name,
            Member.phone,
            Store.code,
            Store.name.label("store_name"),
            level_name_sql(literal(params.language)).label("level"),
        )
        .join(Store, Store.id == Member.home_store_id)
        .outerjoin(Level, Level.id == Member.level_id)
        .where(
            Member.joined_at >= start,
            Member.joined_at < end,
            in_scope(Member.home_store_id, params),
        )
        .order_by(Member.joined_at, Member.id)
    )
    rows: list[dict[str, Any]] = [
        {
            "joined_at": r.joined_at,
            "name": r.name or "",
            "phone": r.phone,
            "store": f"{r.store_name} ({r.code})",
            "level": r.level or "",
        }
        for r in session.execute(one_page(query, params))
    ]
    per_day = joined_per_day(session, params)
    chart_rows = [{"day": day, "new": per_day.get(day, 0)} for day in days(params)]
    total = sum(per_day.values())
    return Report(
        name="new-members",
        title=gettext("New members"),
        columns=[
            Column("joined_at", gettext("Joined"), "datetime"),
            Column("name", gettext("Name")),
            Column("phone", gettext("Phone")),
            Column("store", gettext("Store")),
            Column("level", gettext("Level")),
        ],
        rows=rows,
        total_rows=total if params.page is not None else len(rows),
        chart=Chart(
            "bar", "day", ("new",), rows=chart_rows, series_labels=(gettext("New members"),)
        ),
        summary=[(gettext("New members"), total, "count")],
    )
