"""A member's statement: every journal transaction on their cards, newest first, paged.

One service for the API's ``GET /api/v1/members/<ref>/transactions`` and the panel's
member page, so both show the same lines with the same changes.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from app.cards.models import Card
from app.db import db
from app.ledger.models import Account, Line, Transaction
from app.stores.models import Store


def member_statement(member_id: int, *, page: int = 1, per_page: int = 20) -> dict[str, Any]:
    """One page of the member's transactions: ``transactions`` (each with its kind, card,
    store, amounts and the card's ``changes`` of points, stored value and visits, signed),
    ``page``, ``per_page`` and ``total``."""
    total = db.session.scalar(
        select(func.count(Transaction.id)).where(Transaction.member_id == member_id)
    )
    rows = db.session.execute(
        select(Transaction, Store.code, Card.number)
        .outerjoin(Store, Store.id == Transaction.store_id)
        .outerjoin(Card, Card.id == Transaction.card_id)
        .where(Transaction.member_id == member_id)
        .order_by(Transaction.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    ids = [txn.id for txn, _, _ in rows]
    changes: dict[int, dict[str, int]] = {i: {} for i in ids}
    points_after: dict[int, int] = {}
    card_ids = {txn.id: txn.card_id for txn, _, _ in rows}
    for txn_id, asset, amount, after, card_id in db.session.execute(
        select(Line.transaction_id, Line.asset, Line.amount, Line.balance_after, Account.card_id)
        .join(Account, Account.id == Line.account_id)
        .where(Line.transaction_id.in_(ids), Account.card_id.is_not(None))
        .order_by(Line.id)
    ):
        if card_id != card_ids[txn_id]:
            continue  # the other card of a transfer
        bucket = changes[txn_id]
        bucket[asset] = bucket.get(asset, 0) + int(amount)
        if asset == "points" and after is not None:
            points_after[txn_id] = int(after)
    refunds: dict[int, list[int]] = {i: [] for i in ids}
    for refund_id, original in db.session.execute(
        select(Transaction.id, Transaction.reverses_id)
        .where(Transaction.reverses_id.in_(ids))
        .order_by(Transaction.id)
    ):
        if original is not None:
            refunds[original].append(refund_id)
    entries = []
    for txn, store_code, card_number in rows:
        c = changes[txn.id]
        entries.append(
            {
                "id": txn.id,
                "kind": txn.kind,
                "reason": txn.reason,
                "created_at": txn.created_at,
                "store": store_code,
                "card": card_number,
                "amount_fen": txn.amount_fen,
                "discount_fen": txn.discount_fen,
                "charged_fen": txn.charged_fen,
                "changes": {
                    "points": c.get("points", 0),
                    "stored_value_fen": c.get("stored_value_paid", 0)
                    + c.get("stored_value_bonus", 0),
                    "visits": c.get("visits", 0),
                },
                "points_after": points_after.get(txn.id),
                "external_ref": txn.external_ref,
                "reverses": txn.reverses_id,
                "refunded_by": refunds[txn.id],
                "details": txn.details or {},
            }
        )
    return {"transactions": entries, "page": page, "per_page": per_page, "total": total or 0}
