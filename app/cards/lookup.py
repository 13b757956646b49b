"""A card by number with its holder and the holder's level, in one query.

Every posting starts here (checkout, recharge, redemption at the counter) and
every caller reads ``card.member``: a plain ORM query with joined eager loads
brings all three in one round trip, as the session's own objects.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from app.cards.models import Card
from app.db import db
from app.members.models import Member

_BY_NUMBER = select(Card).options(joinedload(Card.member).joinedload(Member.level))


def card_by_number(number: str) -> Card | None:
    """The card with this number, its ``member`` and the member's ``level`` already loaded."""
    return db.session.scalar(_BY_NUMBER.where(Card.number == number))
