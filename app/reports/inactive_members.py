"""Inactive members (沉睡会员): no purchase, recharge or redemption for N days (default 90).

As of the range's end: a member who joined at least N days before it and has none of
those transactions in the N days before it. Postings the member did not ask for (expiry,
gifts, transfers on replacement, adjustments) do not count as activity. Only the page's
members have their last activity looked up, each by its own index probe in the one
statement (a list of ids would break on a CSV of a million inactive members).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from app.i18n import gettext
from app.ledger.models import Transaction
from app.members.models import Member
from app.reports.base import Column, Report, ReportParams
from app.reports.common import count_rows, in_scope, one_page, store_labels, utc_bounds
from app.reports.ledger_sql import execute, unconverted

DEFAULT_DAYS = 90
#: The kinds of transaction a member makes themselves.
ACTIVITY_KINDS = ("checkout", "recharge", "redemption")


def report(session: Session, params: ReportParams) -> Report:
    idle_days = params.days or DEFAULT_DAYS
    _start, end = utc_bounds(params)
    cutoff = end - dt.timedelta(days=idle_days)
    active = exists().where(
        Transaction.member_id == Member.id,
        Transaction.kind.in_(ACTIVITY_KINDS),
        Transaction.created_at >= cutoff,
        Transaction.created_at < end,
    )
    dialect = session.get_bind().dialect.name
    last_activity = (
        select(unconverted(func.max(Transaction.created_at), dialect))
        .where(
            Transaction.member_id == Member.id,
            Transaction.kind.in_(ACTIVITY_KINDS),
            Transaction.created_at < end,
        )
        .scalar_subquery()
    )
    query = (
        select(
            Member.id,
            Member.name,
            Member.phone,
            unconverted(Member.joined_at, dialect),
            Member.home_store_id,
        )
        .where(Member.joined_at < cutoff, in_scope(Member.home_store_id, params), ~active)
        .order_by(Member.joined_at, Member.id)
    )
    everyone = int(
        session.scalar(
            select(func.count())
            .select_from(Member)
            .where(Member.joined_at < end, in_scope(Member.home_store_id, params))
        )
        or 0
    )
    # Core rows, unpacked: a CSV can list most of the members.
    found = execute(
        session, one_page(query.add_columns(last_activity.label("last_activity")), params), {}
    )
    stores = store_labels(session, {r.home_store_id for r in found})
    rows: list[dict[str, Any]] = []
    for _id, name, phone, joined_at, home_store_id, seen in found:
        if seen is not None and seen.tzinfo is None:
            seen = seen.replace(tzinfo=dt.UTC)
        rows.append(
            {
                "name": name or "",
                "phone": phone,
                "store": stores.get(home_store_id, ""),
                "joined_at": joined_at,
                "last_activity": seen,
                "idle_days": ((end - (seen or joined_at)).days),
            }
        )
    total = count_rows(session, query) if params.page is not None else len(rows)
    return Report(
        name="inactive-members",
        title=gettext("Inactive members"),
        columns=[
            Column("name", gettext("Name")),
            Column("phone", gettext("Phone")),
            Column("store", gettext("Store")),
            Column("joined_at", gettext("Joined"), "datetime"),
            Column("last_activity", gettext("Last purchase, recharge or redemption"), "datetime"),
            Column("idle_days", gettext("Days without one"), "count"),
        ],
        rows=rows,
        total_rows=total,
        summary=[
            (gettext("Days without activity"), idle_days, "count"),
            (gettext("Inactive members"), total, "count"),
            (gettext("Members"), everyone, "count"),
            (gettext("Share inactive"), total * 10000 // everyone if everyone else 0, "percent"),
        ],
    )
