"""Balances as other packages read them. The journal is the truth; this is the view.

Reads the accounts' cached balances (kept by the journal in the posting's own
transaction and verified by ``laoyou ledger check``), so a balance costs one
indexed query however long the history.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import bindparam, func, select

from app.db import db
from app.db.prepared import Prepared


@dataclass(frozen=True)
class Balances:
    points: int = 0
    #: Paid-in money plus bonus money, in fen (negative when overdrawn).
    stored_value_fen: int = 0
    visits: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "points": self.points,
            "stored_value_fen": self.stored_value_fen,
            "visits": self.visits,
        }


def _from_rows(rows: Iterable[tuple[str, int]]) -> Balances:
    by_asset: dict[str, int] = {}
    for asset, balance in rows:
        by_asset[asset] = by_asset.get(asset, 0) + int(balance or 0)
    return Balances(
        points=by_asset.get("points", 0),
        stored_value_fen=by_asset.get("stored_value_paid", 0)
        + by_asset.get("stored_value_bonus", 0),
        visits=by_asset.get("visits", 0),
    )


def card_balances(card_id: int) -> Balances:
    from app.ledger.models import Account

    rows = db.session.execute(
        select(Account.asset, Account.balance).where(Account.card_id == card_id)
    )
    return _from_rows((r[0], r[1]) for r in rows)


def card_stored_value(card_id: int) -> tuple[int, int]:
    """(paid, bonus) fen of a card's stored value: what the counter shows apart, because a
    return (退卡) refunds only the paid part and a sale spends bonus first."""
    from app.ledger.models import Account

    rows = {
        asset: balance
        for asset, balance in db.session.execute(
            select(Account.asset, Account.balance).where(
                Account.card_id == card_id,
                Account.asset.in_(("stored_value_paid", "stored_value_bonus")),
            )
        )
    }
    return int(rows.get("stored_value_paid") or 0), int(rows.get("stored_value_bonus") or 0)


def _member_cards():  # type: ignore[no-untyped-def]
    """The member's working cards, for ``IN``; the member id is the ``member`` parameter."""
    from app.cards.models import Card

    # A cancelled card's value has been moved (replacement) or settled (return).
    return select(Card.id).where(Card.member_id == bindparam("member"), Card.state != "cancelled")


def member_balances(member_id: int) -> Balances:
    """Sum over the member's working cards."""
    from app.ledger.models import Account

    rows = db.session.execute(
        select(Account.asset, func.sum(Account.balance))
        .where(Account.card_id.in_(_member_cards()))
        .group_by(Account.asset),
        {"member": member_id},
    )
    return _from_rows((r[0], r[1]) for r in rows)


def next_expiry(member_id: int) -> tuple[int, dt.date] | None:
    """Points that expire first across the member's cards, and when; None if none expire."""
    from app.clock import local_today
    from app.ledger.models import Account, PointsLot

    row = db.session.execute(
        select(PointsLot.expires_on, func.sum(PointsLot.remaining))
        .join(Account, Account.id == PointsLot.account_id)
        .where(
            Account.card_id.in_(_member_cards()),
            PointsLot.remaining > 0,
            PointsLot.expires_on.is_not(None),
            PointsLot.expires_on >= local_today(),
        )
        .group_by(PointsLot.expires_on)
        .order_by(PointsLot.expires_on)
        .limit(1),
        {"member": member_id},
    ).first()
    if row is None or row[0] is None:
        return None
    return int(row[1]), row[0]


@functools.cache
def _points_summary_statement():  # type: ignore[no-untyped-def]
    """Balances by asset and the next expiring lot, as one UNION ALL (one round trip)."""
    from sqlalchemy import literal, null, union_all

    from app.ledger.models import Account, PointsLot

    cards = _member_cards()
    by_asset = (
        select(Account.asset, func.sum(Account.balance), null())
        .where(Account.card_id.in_(cards))
        .group_by(Account.asset)
    )
    first_expiry = (
        select(literal("expiring"), func.sum(PointsLot.remaining), PointsLot.expires_on)
        .join(Account, Account.id == PointsLot.account_id)
        .where(
            Account.card_id.in_(cards),
            PointsLot.remaining > 0,
            PointsLot.expires_on.is_not(None),
            PointsLot.expires_on >= bindparam("today"),
        )
        .group_by(PointsLot.expires_on)
        .order_by(PointsLot.expires_on)
        .limit(1)
        .subquery()
    )
    return union_all(by_asset, select(first_expiry))


@functools.cache
def _points_summary() -> Prepared:
    return Prepared(_points_summary_statement())


def points_summary(member_id: int) -> tuple[Balances, tuple[int, dt.date] | None]:
    """``member_balances`` and ``next_expiry`` in one statement: the SMS "JF" hot path."""
    from app.clock import local_today

    # On the session's connection (ledger rows are never pending in the ORM), through the
    # ledger's prepared statements: this is the one statement of every JF.
    rows = _points_summary().rows(db.connection(), {"member": member_id, "today": local_today()})
    expiry: tuple[int, dt.date] | None = None
    assets = []
    for asset, amount, expires_on in rows:
        if asset == "expiring":
            if expires_on is not None and amount:
                # The UNION's column has no type: SQLite gives the day back as ISO text.
                day = (
                    expires_on
                    if isinstance(expires_on, dt.date)
                    else dt.date.fromisoformat(expires_on)
                )
                expiry = (int(amount), day)
        else:
            assets.append((asset, amount))
    return _from_rows(assets), expiry


def count_transactions(
    since: dt.datetime, until: dt.datetime, store_ids: frozenset[int] | None = None
) -> int:
    """Journal transactions posted in ``[since, until)``, or only at one of ``store_ids``."""
    from app.ledger.models import Transaction

    query = (
        select(func.count())
        .select_from(Transaction)
        .where(Transaction.created_at >= since, Transaction.created_at < until)
    )
    if store_ids is not None:
        query = query.where(Transaction.store_id.in_(store_ids))
    return db.session.scalar(query) or 0
