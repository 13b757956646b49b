"""A store's day from its journal: the end-of-day summary a counter prints, per staff member.

Plain aggregates over the transactions posted at the store between the local midnights
of the day (``TIMEZONE``). Each transaction counts for whoever posted it (its
``actor``: ``staff:<username>`` from a station, ``apikey:<id>`` for a POS without a
signed-in staff member, ``staff:<username>`` from the admin panel).

Cash expected in the drawer: cash sales charged, plus recharges (money paid in at
the counter), less refunds of cash sales and the paid value returned with a card (退卡).
Refunds of stored-value sales go back onto the card, not into the hand. A split tender
(stored value + cash) counts its cash part only, in the drawer and under ``cash`` in
the sales by way of paying (its stored-value part under ``stored_value``), and its
refunds take out only the cash they hand back (``cash_back_fen``).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import aliased

from app.clock import zone
from app.db import db
from app.ledger.models import Line, Transaction

#: Transactions that are not sales, recharges or refunds still move points (gifts,
#: redemptions): they count in points issued and redeemed only.
_SALE, _RECHARGE, _REFUND, _RETURN = "checkout", "recharge", "refund", "return"


@dataclass
class DayFigures:
    """One column of the summary: the store, or one staff member. Money in fen."""

    sales: int = 0
    sales_fen: int = 0
    discount_fen: int = 0
    sales_by_pay_with_fen: dict[str, int] = field(default_factory=dict)
    recharges: int = 0
    recharges_fen: int = 0
    recharge_bonus_fen: int = 0
    refunds: int = 0
    refunds_fen: int = 0
    returns: int = 0
    returns_fen: int = 0
    points_issued: int = 0
    points_redeemed: int = 0
    cash_expected_fen: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The day's local midnights, as aware datetimes."""
    start = dt.datetime.combine(day, dt.time(0), tzinfo=zone())
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=zone())
    return start, end


def store_day(store_id: int, day: dt.date) -> tuple[DayFigures, dict[str, DayFigures]]:
    """The store's figures for ``day`` and the same per actor, in two queries."""
    start, end = day_bounds(day)
    purchase = aliased(Transaction)
    rows = db.session.execute(
        select(
            Transaction.id,
            Transaction.kind,
            Transaction.actor,
            Transaction.amount_fen,
            Transaction.discount_fen,
            Transaction.charged_fen,
            Transaction.details,
            purchase.details.label("purchase_details"),
        )
        .outerjoin(purchase, purchase.id == Transaction.reverses_id)
        .where(
            Transaction.store_id == store_id,
            Transaction.created_at >= start,
            Transaction.created_at < end,
        )
    ).all()
    points = db.session.execute(
        select(Transaction.actor, Line.amount)
        .join(Line, Line.transaction_id == Transaction.id)
        .where(
            Transaction.store_id == store_id,
            Transaction.created_at >= start,
            Transaction.created_at < end,
            Line.asset == "points",
            Line.balance_after.is_not(None),  # a card's account, not a system one
        )
    ).all()
    total = DayFigures()
    per_actor: dict[str, DayFigures] = defaultdict(DayFigures)
    for row in rows:
        for figures in (total, per_actor[row.actor or "unknown"]):
            _count(figures, row)
    for actor, amount in points:
        for figures in (total, per_actor[actor or "unknown"]):
            if amount > 0:
                figures.points_issued += amount
            else:
                figures.points_redeemed -= amount
    return total, dict(sorted(per_actor.items()))


def _count(figures: DayFigures, row: Any) -> None:
    details = row.details or {}
    if row.kind == _SALE:
        pay_with = str(details.get("pay_with", "unknown"))
        figures.sales += 1
        figures.sales_fen += row.charged_fen
        figures.discount_fen += row.discount_fen
        by = figures.sales_by_pay_with_fen
        cash = int(details["cash_fen"]) if "cash_fen" in details else row.charged_fen
        if "cash_fen" in details:  # a split tender: each part under its own way of paying
            by["stored_value"] = by.get("stored_value", 0) + row.charged_fen - cash
        by[pay_with] = by.get(pay_with, 0) + (cash if pay_with == "cash" else row.charged_fen)
        if pay_with == "cash":
            figures.cash_expected_fen += cash
    elif row.kind == _RECHARGE:
        figures.recharges += 1
        figures.recharges_fen += row.amount_fen
        figures.recharge_bonus_fen += int(details.get("bonus_fen", 0))
        figures.cash_expected_fen += row.amount_fen
    elif row.kind == _REFUND:
        figures.refunds += 1
        figures.refunds_fen += row.amount_fen
        if (row.purchase_details or {}).get("pay_with") == "cash":
            # Older refunds did not record it: all of a cash sale's refund was cash.
            figures.cash_expected_fen -= int(details.get("cash_back_fen", row.amount_fen))
    elif row.kind == _RETURN:
        figures.returns += 1
        figures.returns_fen += row.amount_fen
        figures.cash_expected_fen -= row.amount_fen
