"""The dashboard's figures for one local day: sales, recharges, refunds, new members, points.

Transactions count at their store (a staff member's scope limits them); new members at
their home store. Points issued and redeemed are read from the system accounts a posting
takes them from (``issued``) and gives them to (``spent``), so a refund that takes back
earned points or returns redeemed ones nets out, and expiry (to ``breakage``) is neither.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from app.ledger.models import Line, Transaction, system_account_id
from app.members.models import Member
from app.reports.base import ReportParams
from app.reports.common import in_scope, utc_bounds


@dataclass(frozen=True)
class DayFigures:
    sales: int
    sales_charged_fen: int
    recharges: int
    recharged_fen: int
    refunds: int
    refunded_fen: int
    new_members: int
    points_issued: int
    points_redeemed: int


def day_figures(session: Session, day: dt.date, store_ids: frozenset[int] | None) -> DayFigures:
    params = ReportParams(day, day, store_ids)
    start, end = utc_bounds(params)
    in_day = (
        Transaction.created_at >= start,
        Transaction.created_at < end,
        in_scope(Transaction.store_id, params),
    )

    def of_kind(kind: str, amount: Any) -> tuple[Any, Any]:
        hit = Transaction.kind == kind
        return (
            func.coalesce(func.sum(case((hit, 1), else_=0)), 0),
            func.coalesce(func.sum(case((hit, amount), else_=0)), 0),
        )

    figures = session.execute(
        select(
            *of_kind("checkout", Transaction.charged_fen),
            *of_kind("recharge", Transaction.amount_fen),
            *of_kind("refund", Transaction.amount_fen),
        ).where(*in_day, Transaction.kind.in_(("checkout", "recharge", "refund")))
    ).one()
    issued_id = system_account_id("issued", "points")
    spent_id = system_account_id("spent", "points")
    points = session.execute(
        select(
            func.coalesce(func.sum(case((Line.account_id == issued_id, -Line.amount), else_=0)), 0),
            func.coalesce(func.sum(case((Line.account_id == spent_id, Line.amount), else_=0)), 0),
        )
        .join(Transaction, Transaction.id == Line.transaction_id)
        .where(*in_day, Line.account_id.in_((issued_id, spent_id)))
    ).one()
    joined = session.scalar(
        select(func.count())
        .select_from(Member)
        .where(
            Member.joined_at >= start,
            Member.joined_at < end,
            in_scope(Member.home_store_id, params),
        )
    )
    return DayFigures(
        sales=int(figures[0]),
        sales_charged_fen=int(figures[1]),
        recharges=int(figures[2]),
        recharged_fen=int(figures[3]),
        refunds=int(figures[4]),
        refunded_fen=int(figures[5]),
        new_members=int(joined or 0),
        points_issued=int(points[0]),
        points_redeemed=int(points[1]),
    )
