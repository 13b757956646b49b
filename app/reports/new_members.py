"""New members (新增会员): who joined in the range, at which store; a chart per day.

The list's statement is built once per shape (``ledger_sql``) and its rows unpacked: a
month's CSV is thousands of members, and building the statement and reading each row by
name cost more than the query.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from sqlalchemy import Executable, String, bindparam, select
from sqlalchemy.orm import Session

from app.i18n import gettext
from app.members.models import Level, Member, level_name_sql
from app.reports import ledger_sql as sql
from app.reports.base import Chart, Column, Report, ReportParams
from app.reports.common import days
from app.reports.member_trend import joined_per_day
from app.stores.models import Store


def queries(params: ReportParams, dialect: str) -> dict[str, tuple[Executable, dict[str, Any]]]:
    bound = {**sql.values(params), "language": params.language}
    return {k: (s, bound) for k, s in statements(sql.shape(params, dialect)).items()}


@lru_cache(maxsize=64)
def statements(form: sql.Shape) -> dict[str, Executable]:
    where = [sql.in_window(Member.joined_at)]
    if form.stores is not None:
        where.append(sql.one_of(Member.home_store_id, form.stores))
    rows = sql.paged(
        select(
            sql.unconverted(Member.joined_at, form.dialect),
            Member.name,
            Member.phone,
            Store.name,
            Store.code,
            level_name_sql(bindparam("language", type_=String())),
        )
        .join(Store, Store.id == Member.home_store_id)
        .outerjoin(Level, Level.id == Member.level_id)
        .where(*where)
        .order_by(Member.joined_at, Member.id),
        form,
    )
    return {"rows": rows}


def report(session: Session, params: ReportParams) -> Report:
    stmts = queries(params, sql.dialect_of(session))
    rows: list[dict[str, Any]] = [
        {
            "joined_at": joined_at,
            "name": name or "",
            "phone": phone,
            "store": f"{store} ({code})",
            "level": level or "",
        }
        for joined_at, name, phone, store, code, level in sql.execute(session, *stmts["rows"])
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
