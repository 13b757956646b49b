"""Helpers for the journal, operations, API and property tests (fixtures: conftest.py)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import func, select

from app.db import db
from app.ledger.models import Account, Line, PointsLot, PointsLotUse, Transaction

CST = dt.timezone(dt.timedelta(hours=8))
#: 2026-11-25 is a Wednesday: the member day of RULES.
WEDNESDAY = dt.datetime(2026, 11, 25, 12, 0, tzinfo=CST)
THURSDAY = dt.datetime(2026, 11, 26, 12, 0, tzinfo=CST)

#: Small rules an accountant can follow: 1 point per yuan, Wednesday is a 1.5x member
#: day, Silver pays 95%, recharge 500 get 50, points expire at the end of the next year.
RULES: dict[str, Any] = {
    "version": 1,
    "earning": {
        "points_per_yuan_bp": 10000,
        "special_periods": [{"name": "member_day", "weekdays": [3], "multiplier_bp": 15000}],
    },
    "levels": [
        {"name": "Regular", "rank": 1, "discount_bp": 10000, "upgrade_threshold": 0},
        {"name": "Silver", "rank": 2, "discount_bp": 9500, "upgrade_threshold": 1000},
        {"name": "Gold", "rank": 3, "discount_bp": 9000, "upgrade_threshold": 5000},
    ],
    "growth": {"source": "spend", "rate_bp": 10000},
    "recharge_plans": [{"name": "500+50", "min_amount_fen": 50000, "bonus_fen": 5000}],
    "points_expiry": {"mode": "end_of_next_year"},
    "redemption": {"offset_points_per_yuan": 100, "max_offset_bp": 10000},
}


def counts() -> dict[str, int]:
    """Rows in every journal table: a refusal must leave these unchanged."""
    return {
        model.__tablename__: db.session.scalar(select(func.count()).select_from(model)) or 0
        for model in (Transaction, Line, Account, PointsLot, PointsLotUse)
    }


def card_lines(transaction_id: int) -> dict[str, int]:
    """{asset: amount} of a transaction's card lines."""
    out: dict[str, int] = {}
    for asset, amount in db.session.execute(
        select(Line.asset, Line.amount).where(
            Line.transaction_id == transaction_id, Line.balance_after.is_not(None)
        )
    ):
        out[asset] = out.get(asset, 0) + int(amount)
    return out


def lots(card_id: int) -> list[tuple[int, int, dt.date | None]]:
    """(amount, remaining, expires_on) of a card's lots, oldest first."""
    return [
        (int(a), int(r), e)
        for a, r, e in db.session.execute(
            select(PointsLot.amount, PointsLot.remaining, PointsLot.expires_on)
            .join(Account, Account.id == PointsLot.account_id)
            .where(Account.card_id == card_id)
            .order_by(PointsLot.id)
        )
    ]


def refused(exc_type: type[BaseException], fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Call ``fn`` as a unit of work (a savepoint, as the request boundary would roll back)
    expecting ``exc_type``; assert the journal tables hold exactly what they held before."""
    before = counts()
    with pytest.raises(exc_type) as info, db.session.begin_nested():
        fn(*args, **kwargs)
    assert counts() == before
    return info.value
