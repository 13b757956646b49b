"""Giving back points a posting spent, by a reversing transaction (never an update).

Used by campaigns when a paid draw is cancelled. Each lot the original debit used gets
its points back as a lot moved from it (same last day, same earning time) on the card it
came from, as a refund restores a purchase's points; ``spent`` gives them up.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select

from app.db import db
from app.errors import NotFound
from app.ledger import journal
from app.ledger.models import Account, PointsLot, Transaction


def reverse_points_spend(
    transaction_id: int,
    *,
    key: str,
    reason: str,
    details: Mapping[str, Any] | None = None,
) -> journal.Posting:
    """Post the reversal of a points debit, once per ``key`` (a replay posts nothing)."""
    original = db.session.get(Transaction, transaction_id)
    if original is None:
        raise NotFound(f"no transaction {transaction_id}")
    uses = [
        (lot_id, amount) for lot_id, amount in journal.lot_uses_of(transaction_id) if amount > 0
    ]
    lots = {
        lot.id: lot
        for lot in db.session.scalars(
            select(PointsLot).where(PointsLot.id.in_([lot_id for lot_id, _ in uses]))
        )
    }
    cards = {
        account_id: card_id
        for account_id, card_id in db.session.execute(
            select(Account.id, Account.card_id).where(
                Account.id.in_({lot.account_id for lot in lots.values()})
            )
        )
    }
    entries: list[journal.Entry] = []
    for lot_id, amount in uses:
        lot = lots[lot_id]
        entries += [
            journal.Entry(
                "points",
                amount,
                card_id=cards[lot.account_id],
                expires_on=lot.expires_on,
                earned_at=lot.earned_at,
                moved_from_lot_id=lot.id,
            ),
            journal.Entry("points", -amount, system="spent"),
        ]
    if not entries:
        raise NotFound(f"transaction {transaction_id} spent no points")
    return journal.post(
        original.kind,
        key,
        entries,
        reason=reason,
        reverses_id=original.id,
        card_id=original.card_id,
        member_id=original.member_id,
        details=details,
    )
