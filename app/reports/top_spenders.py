"""Top spenders (消费排行): members ranked by what they paid in the range, less refunds.

A checkout's ``charged_fen`` (paid after discounts and points offset) counts at the store
of sale; a refund's ``amount_fen`` (money given back) at the store that refunded, on the
day it was refunded. The chart shows the first ten.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from app.i18n import gettext
from app.ledger.models import Transaction
from app.reports.base import Chart, Column, Report, ReportParams
from app.reports.common import in_scope, members_by_id, one_page, store_labels, utc_bounds

CHART_ROWS = 10


def report(session: Session, params: ReportParams) -> Report:
    start, end = utc_bounds(params)
    is_sale = Transaction.kind == "checkout"
    purchases = func.sum(case((is_sale, 1), else_=0))
    charged = func.sum(case((is_sale, Transaction.charged_fen), else_=0))
    refunded = func.sum(case((is_sale, 0), else_=Transaction.amount_fen))
    net = charged - refunded
    query = (
        select(
            Transaction.member_id,
            purchases.label("purchases"),
            charged.label("charged"),
            refunded.label("refunded"),
            net.label("net"),
        )
        .where(
            Transaction.created_at >= start,
            Transaction.created_at < end,
            Transaction.kind.in_(("checkout", "refund")),
            Transaction.member_id.is_not(None),
            in_scope(Transaction.store_id, params),
        )
        .group_by(Transaction.member_id)
        .order_by(net.desc(), Transaction.member_id)
    )
    found = session.execute(one_page(query, params)).all()
    members = members_by_id(session, [r.member_id for r in found])
    stores = store_labels(session, {m.home_store_id for m in members.values()})
    first = (params.page or 1) - 1
    rows: list[dict[str, Any]] = []
    for rank, r in enumerate(found, start=first * params.page_size + 1):
        member = members[r.member_id]
        rows.append(
            {
                "rank": rank,
                "name": member.name or "",
                "phone": member.phone,
                "store": stores.get(member.home_store_id, ""),
                "purchases": int(r.purchases or 0),
                "charged_fen": int(r.charged or 0),
                "refunded_fen": int(r.refunded or 0),
                "net_fen": int(r.net or 0),
            }
        )
    ranked = query.order_by(None).subquery()
    totals = session.execute(
        select(func.count(), func.coalesce(func.sum(ranked.c.net), 0)).select_from(ranked)
    ).one()
    top = rows[:CHART_ROWS] if params.page in (None, 1) else None
    if top is None:
        top = report(
            session,
            ReportParams(
                params.date_from,
                params.date_to,
                params.store_ids,
                page=1,
                page_size=CHART_ROWS,
                language=params.language,
            ),
        ).rows
    return Report(
        name="top-spenders",
        title=gettext("Top spenders"),
        columns=[
            Column("rank", gettext("Rank"), "count"),
            Column("name", gettext("Name")),
            Column("phone", gettext("Phone")),
            Column("store", gettext("Home store")),
            Column("purchases", gettext("Purchases"), "count"),
            Column("charged_fen", gettext("Paid"), "fen"),
            Column("refunded_fen", gettext("Refunded"), "fen"),
            Column("net_fen", gettext("Net"), "fen"),
        ],
        rows=rows,
        total_rows=int(totals[0]),
        chart=Chart(
            "bar",
            "who",
            ("net_fen",),
            rows=[{"who": r["name"] or r["phone"], "net_fen": r["net_fen"]} for r in top],
        ),
        summary=[
            (gettext("Members ranked"), int(totals[0]), "count"),
            (gettext("Net paid"), int(totals[1]), "fen"),
        ],
    )
