"""Member analysis (会员分析): members as of the range's end, by level, gender, age band, region.

One table of (dimension, group, members, share); the chart shows the levels. A member
counts at their home store. The age is the stated birth year's (a lunar year is read as
the solar year it starts in), as of the range's last day; the region is the member's own.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, func, literal, select
from sqlalchemy.orm import Session

from app.i18n import gettext
from app.members.models import GENDERS, Level, Member, level_name_sql
from app.reports.base import Chart, Column, Report, ReportParams
from app.reports.common import in_scope, page_of, utc_bounds

#: Age bands: (lowest age, label key); a band runs to the next band's lowest age.
AGE_BANDS = (
    (0, "0-17"),
    (18, "18-24"),
    (25, "25-34"),
    (35, "35-44"),
    (45, "45-54"),
    (55, "55-64"),
    (65, "65+"),
)


def _age_band_sql(params: ReportParams) -> Any:
    """The band's label in SQL: age N or more iff born on or before the end date N years back."""
    end = params.date_to
    born = Member.birthday_year * 10000 + Member.birthday_month * 100 + Member.birthday_day
    whens = []
    for lowest, label in reversed(AGE_BANDS):
        cutoff = (end.year - lowest) * 10000 + end.month * 100 + end.day
        whens.append((born <= cutoff, literal(label)))
    return case((Member.birthday_year.is_(None), literal("")), *whens, else_=literal(""))


def _band_label(key: str) -> str:
    if key == "0-17":
        return gettext("Under 18")
    if key == "65+":
        return gettext("65 and over")
    return key.replace("-", "–") if key else gettext("Not given")


def _gender_label(key: str) -> str:
    return {
        "female": gettext("Female"),
        "male": gettext("Male"),
        "other": gettext("Other"),
        "unknown": gettext("Not given"),
    }.get(key, key)


def report(session: Session, params: ReportParams) -> Report:
    _start, end = utc_bounds(params)
    members = (
        select(Member.id)
        .where(Member.joined_at < end, in_scope(Member.home_store_id, params))
        .subquery()
    )
    total = int(session.scalar(select(func.count()).select_from(members)) or 0)

    def grouped(key: Any, order: Any = None) -> list[tuple[Any, int]]:
        query = (
            select(key.label("k"), func.count().label("n"))
            .select_from(Member)
            .join(members, members.c.id == Member.id)
            .group_by(key)
        )
        ordered = query.order_by(key if order is None else order)
        return [(k, int(n)) for k, n in session.execute(ordered)]

    level_name = level_name_sql(literal(params.language))
    by_level = session.execute(
        select(level_name.label("k"), func.count().label("n"))
        .select_from(Member)
        .join(members, members.c.id == Member.id)
        .outerjoin(Level, Level.id == Member.level_id)
        .group_by(Level.rank, level_name)
        .order_by(Level.rank)
    ).all()
    by_gender = dict(grouped(Member.gender))
    band = _age_band_sql(params)
    by_band = dict(grouped(band))
    by_region = grouped(func.coalesce(Member.region, ""), func.count().desc())

    def share(n: int) -> int:
        return n * 10000 // total if total else 0

    rows: list[dict[str, Any]] = []
    dimension = gettext("Level")
    level_rows = [
        {"dimension": dimension, "group": name or gettext("No level"), "members": int(n)}
        for name, n in by_level
    ]
    rows += level_rows
    dimension = gettext("Gender")
    rows += [
        {"dimension": dimension, "group": _gender_label(g), "members": by_gender[g]}
        for g in GENDERS
        if by_gender.get(g)
    ]
    dimension = gettext("Age band")
    rows += [
        {"dimension": dimension, "group": _band_label(key), "members": by_band[key]}
        for key in [label for _lowest, label in AGE_BANDS] + [""]
        if by_band.get(key)
    ]
    dimension = gettext("Region")
    rows += [
        {"dimension": dimension, "group": region or gettext("Not given"), "members": n}
        for region, n in sorted(by_region, key=lambda r: (-r[1], r[0]))
    ]
    for row in rows:
        row["share"] = share(row["members"])
    return Report(
        name="members",
        title=gettext("Member analysis"),
        columns=[
            Column("dimension", gettext("Dimension")),
            Column("group", gettext("Group")),
            Column("members", gettext("Members"), "count"),
            Column("share", gettext("Share"), "percent"),
        ],
        rows=page_of(rows, params),
        total_rows=len(rows),
        chart=Chart("pie", "group", ("members",), rows=level_rows),
        summary=[(gettext("Members"), total, "count")],
    )
