"""A batch of anonymous cards (gift cards, unsold stock): ``laoyou cards issue`` and the
panel's batch issue call this, so both issue the same cards and write the same rows."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from app.audit.services import record
from app.cards.services import add_medium, issue_card
from app.errors import InvalidRequest
from app.signals import card_issued_with_value

#: Card types whose value is money; the others carry points, visits or a period.
MONEY_TYPES = ("gift", "stored_value")


@dataclass
class Batch:
    """One batch: what every card gets, and its CSV row (``columns`` in order)."""

    card_type: str
    period: str | None = None
    value_fen: int = 0
    visits: int = 0
    #: A random 6-digit PIN per card, in the row only (the card keeps its hash).
    pins: bool = False
    qr: bool = False
    store: Any = None
    actor: str = "cli"

    def check(self) -> None:
        """Refuse a batch that cannot be issued, before any card is made."""
        if self.value_fen < 0 or self.visits < 0:
            raise InvalidRequest("a value cannot be negative", field="value_fen")
        if self.value_fen and self.card_type not in MONEY_TYPES:
            raise InvalidRequest(
                f"a value needs a card type of {' or '.join(MONEY_TYPES)}", field="value_fen"
            )
        if self.visits and self.card_type != "count":
            raise InvalidRequest("visits are for count cards", field="visits")
        if self.card_type == "period" and self.period is None:
            raise InvalidRequest("period cards need a period", field="period")

    def columns(self) -> list[str]:
        columns = ["number", "type", "state", "value_fen"]
        columns += ["visits"] if self.card_type == "count" else []
        columns += ["valid_from", "valid_until"] if self.card_type == "period" else []
        columns += ["pin"] if self.pins else []
        columns += ["qr_token"] if self.qr else []
        return columns

    def issue_one(self) -> dict[str, Any]:
        """Issue one card (and preload its value through ``card_issued_with_value``)."""
        pin = f"{secrets.randbelow(10**6):06d}" if self.pins else None
        card = issue_card(
            self.card_type, store=self.store, period=self.period, pin=pin, actor=self.actor
        )
        row: dict[str, Any] = {
            "number": card.number,
            "type": card.type,
            "state": card.state,
            "value_fen": self.value_fen,
        }
        if self.card_type == "count":
            row["visits"] = self.visits
        if self.card_type == "period":
            row["valid_from"] = card.valid_from.isoformat() if card.valid_from else ""
            row["valid_until"] = card.valid_until.isoformat() if card.valid_until else ""
        if pin is not None:
            row["pin"] = pin
        if self.qr:
            row["qr_token"] = add_medium(card, "qr_token", secrets.token_urlsafe(18)).value
        if self.value_fen or self.visits:
            card_issued_with_value.send(
                card,
                value_fen=self.value_fen,
                visits=self.visits,
                idempotency_key=f"cards-issue:{card.number}",
                actor=self.actor,
            )
        return row


#: Largest batch in one command (and one transaction).
MAX_BATCH = 10_000


def issue_batch(batch: Batch, count: int) -> list[dict[str, Any]]:
    """Issue ``count`` cards of ``batch`` and audit the batch; every card's row, in order.

    The rows may hold PINs: the caller hands them to whoever asked, once, and keeps none.
    """
    if not 1 <= count <= MAX_BATCH:
        raise InvalidRequest(f"a batch is 1 to {MAX_BATCH} cards", field="count")
    batch.check()
    rows = [batch.issue_one() for _ in range(count)]
    record(
        "card.issue_batch",
        "store",
        batch.store.code if batch.store is not None else "-",
        after={
            "count": count,
            "type": batch.card_type,
            "value_fen": batch.value_fen,
            "visits": batch.visits,
            "first": rows[0]["number"],
            "last": rows[-1]["number"],
        },
    )
    return rows
