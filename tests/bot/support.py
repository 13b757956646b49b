"""Putting value on cards through the journal, as the ledger's own operations do."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from app.ledger.journal import Entry, credit_points, post

_keys = itertools.count(1)


def give_points(card: Any, points: int, expires_on: dt.date | None = None) -> None:
    credit_points(card, points, kind="gift", key=f"test:{next(_keys)}", expires_on=expires_on)


def give_stored_value(card: Any, fen: int) -> None:
    post(
        "recharge",
        f"test:{next(_keys)}",
        [
            Entry("stored_value_paid", fen, card_id=card.id),
            Entry("stored_value_paid", -fen, system="issued"),
        ],
        card_id=card.id,
    )


def give_visits(card: Any, visits: int) -> None:
    post(
        "load",
        f"test:{next(_keys)}",
        [Entry("visits", visits, card_id=card.id), Entry("visits", -visits, system="issued")],
        card_id=card.id,
    )
