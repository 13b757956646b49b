"""Top spenders (消费排行): members ranked by what they paid in the range, less refunds.

A checkout's ``charged_fen`` (paid after discounts and points offset) counts at the store
of sale; a refund's ``amount_fen`` (money given back) at the store that refunded, on the
day it was refunded. The chart shows the first ten.

The ranking is grouped and paged, then joined to each member and their home store, in
one statement built once per shape (``ledger_sql``): looking the members up afterwards
sent a CSV's thousands of ids as parameters, which cost SQLAlchemy and psycopg four times
the query itself.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from sqlalchemy import Executable, case, func, select
from sqlalchemy.orm import Session

from app.i18n import gettext
from app.ledger.models import Transaction
from app.members.models import Member
from app.reports import ledger_sql as sql
from app.reports.base import Chart, Column, Report, ReportParams
from app.stores.models import Store

CHART_ROWS = 10


def queries(params: ReportParams, dialect: str) -> dict[str, tuple[Executable, dict[str, Any]]]:
    bound = sql.values(params)
    return {k: (s, bound) for k, s in statements(sql.shape(params, dialect)).items()}


@lru_cache(maxsize=64)
def statements(form: sql.Shape) -> dict[str, Executable]:
    is_sale = Transaction.kind == "checkout"
    charged = func.sum(case((is_sale, Transaction.charged_fen), else_=0))
    refunded = func.sum(case((is_sale, 0), else_=Transaction.amount_fen))
    ranked = (
        select(
            Transaction.member_id.label("member_id"),
            func.sum(case((is_sale, 1), else_=0)).label("purchases"),
            charged.label("charged"),
            refunded.label("refunded"),
            (charged - refunded).label("net"),
        )
        .where(
            *sql.transactions_in(form, "checkout", "refund"),
            Transaction.member_id.is_not(None),
        )
        .group_by(Transaction.member_id)
        .subquery("ranked")
    )
    # The page is cut before the members are joined: joined first, PostgreSQL looked up
    # every ranked member to show fifty (twice the page's time).
    order = (ranked.c.net.desc(), ranked.c.member_id)
    page = sql.paged(select(ranked).order_by(*order), form).subquery("page")
    rows = (
        select(
            Member.name,
            Member.phone,
            Store.name,
            Store.code,
            page.c.purchases,
            page.c.charged,
            page.c.refunded,
            page.c.net,
        )
        .select_from(page)
        .join(Member, Member.id == page.c.member_id)
        .outerjoin(Store, Store.id == Member.home_store_id)
        .order_by(page.c.net.desc(), page.c.member_id)
    )
    totals = select(func.count(), func.coalesce(func.sum(ranked.c.net), 0))
    return {"rows": rows, "totals": totals}


def report(session: Session, params: ReportParams) -> Report:
    stmts = queries(params, sql.dialect_of(session))
    first = ((params.page or 1) - 1) * params.page_size + 1
    # Unpacked, not read by name: a CSV is every ranked member of the range.
    rows: list[dict[str, Any]] = [
        {
            "rank": rank,
            "name": name or "",
            "phone": phone,
            "store": f"{store_name} ({store_code})" if store_code is not None else "",
            "purchases": int(purchases or 0),
            "charged_fen": int(charged or 0),
            "refunded_fen": int(refunded or 0),
            "net_fen": int(net or 0),
        }
        for rank, (name, phone, store_name, store_code, purchases, charged, refunded, net) in (
            enumerate(sql.execute(session, *stmts["rows"]), start=first)
        )
    ]
    ranked, net_paid = sql.execute(session, *stmts["totals"])[0]
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
        total_rows=int(ranked),
        chart=Chart(
            "bar",
            "who",
            ("net_fen",),
            rows=[{"who": r["name"] or r["phone"], "net_fen": r["net_fen"]} for r in top],
        ),
        summary=[
            (gettext("Members ranked"), int(ranked), "count"),
            (gettext("Net paid"), int(net_paid), "fen"),
        ],
    )
