"""Cards with a validity window (a period card, or any card given a term: a paid annual
membership, a gift card with an end date): reminding their holders before it ends."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from app.cards.models import Card
from app.db import db
from app.signals import card_expiring


def remind_validity_ending(as_of: dt.date, *, days: int) -> int:
    """Announce each member's active card whose last valid day falls within ``days`` of
    ``as_of`` (``card_expiring``), whatever its type; returns how many. Messaging words it
    for the card's type and keys one reminder per card and last day, so a daily run, a
    second run or a run on another host repeats nothing."""
    until = as_of + dt.timedelta(days=days)
    cards = db.session.scalars(
        select(Card)
        .where(
            Card.member_id.is_not(None),
            Card.state == "active",
            Card.valid_until.is_not(None),
            Card.valid_until >= as_of,
            Card.valid_until <= until,
        )
        .order_by(Card.id)
    ).all()
    for card in cards:
        card_expiring.send(card, member=card.member, valid_until=card.valid_until)
    return len(cards)
