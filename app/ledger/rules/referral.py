"""Points the rules give outside a purchase: the sign-up gift, the referral bonus and the
birthday gift.

Each posts through the journal with a key derived from the member, so each is
given once whatever happens: a repeated signal, a replayed checkout, two first
purchases at two counters at the same moment (the second finds the key posted
and replays it). They run inside the transaction of the event that caused them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.cards.models import Card
from app.db import db, utcnow
from app.members.models import Member
from app.signals import member_joined

#: A first spend is a purchase paid with money: cash or stored value.
PAID_WITH_MONEY = ("cash", "stored_value")


def signup_gift(member: Member, card: Card | None) -> int:
    """Credit the sign-up gift to the member's first card; returns the points given."""
    from app.ledger.rules.engine import current_rules

    points = current_rules().signup_points
    if not points or card is None:
        return 0
    _credit(card, points, reason="signup_gift", key=f"signup:{member.id}", request=member.id)
    return points


def birthday_gift(member: Member, year: int) -> int:
    """Credit the rules' birthday points once for ``year``; returns the points given (0 when
    the rules give none, the member has no active card, or it was given before)."""
    from app.ledger.models import Transaction
    from app.ledger.rules.engine import current_rules

    points = current_rules().birthday_points
    if not points:
        return 0
    key = f"birthday:{member.id}:{year}"
    if db.session.scalar(select(Transaction.id).where(Transaction.idempotency_key == key)):
        return 0
    card = _referrer_card(member.id)
    if card is None:
        return 0
    _credit(card, points, reason="birthday", key=key, request=f"{member.id}:{year}")
    return points


def referral_bonus(transaction: Any, member: Member) -> int:
    """On a referred member's first purchase paid with money, credit the referrer once."""
    from app.ledger.models import Transaction
    from app.ledger.rules.engine import current_rules

    if member.referrer_id is None or transaction.charged_fen <= 0:
        return 0
    if (transaction.details or {}).get("pay_with") not in PAID_WITH_MONEY:
        return 0  # points or visits: not yet a paying customer
    points = current_rules().referral_points
    if not points:
        return 0
    key = f"referral:{member.id}"
    if db.session.scalar(select(Transaction.id).where(Transaction.idempotency_key == key)):
        return 0
    target = _referrer_card(member.referrer_id)
    if target is None:
        return 0
    _credit(
        target,
        points,
        reason="referral",
        key=key,
        request=member.id,
        store_id=transaction.store_id,
        details={"referred_member": member.id, "first_purchase": transaction.id},
    )
    return points


def _referrer_card(referrer_id: int) -> Card | None:
    return db.session.scalar(
        select(Card)
        .where(Card.member_id == referrer_id, Card.state == "active")
        .order_by(Card.is_primary.desc(), Card.id)
        .limit(1)
    )


def _credit(
    card: Card,
    points: int,
    *,
    reason: str,
    key: str,
    request: Any,
    store_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    from app.ledger import journal
    from app.ledger.rules.engine import points_expiry

    journal.post(
        "gift",
        key,
        [
            journal.Entry("points", points, card_id=card.id, expires_on=points_expiry(utcnow())),
            journal.Entry("points", -points, system="issued"),
        ],
        # The request is the member, not the lines: a second attempt on another day
        # or card replays the first instead of failing as a different request.
        request={"reward": reason, "member": request},
        reason=reason,
        store_id=store_id,
        actor="rules",
        card_id=card.id,
        member_id=card.member_id,
        details=details,
    )


def _on_member_joined(member: Member, card: Card | None = None, **_: Any) -> None:
    signup_gift(member, card)


def connect_signals() -> None:
    """Signup and referral gifts for new members (``app.ledger.init_app``; blinker keeps one)."""
    member_joined.connect(_on_member_joined)
