"""Balances as other packages read them. The journal is the truth; this is the view.

Until the journal lands every balance is zero; callers already use this shape.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class Balances:
    points: int = 0
    stored_value_fen: int = 0
    visits: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "points": self.points,
            "stored_value_fen": self.stored_value_fen,
            "visits": self.visits,
        }


def card_balances(card_id: int) -> Balances:
    return Balances()


def member_balances(member_id: int) -> Balances:
    """Sum over the member's working cards."""
    return Balances()


def next_expiry(member_id: int) -> tuple[int, dt.date] | None:
    """Points that expire first across the member's cards, and when; None if none expire."""
    return None
