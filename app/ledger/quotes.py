"""What a sale or a recharge would give, before it is confirmed: nothing is posted.

A counter shows the level discount, any promotion and the points a sale earns (or the
bonus of a recharge) before the member agrees; these are the same rules the posting
then applies (``rules.quote_checkout``, ``rules.best_recharge_plan``, and the promotions
seam through ``operations.promotions_in_force``), read now. A rule or promotion change
between the quote and the posting is possible; the posting's answer is what counts and
what the receipt prints.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from flask import current_app

from app.cards.models import Card
from app.db import utcnow
from app.errors import AmountTooLarge
from app.ledger.operations import check_split, ensure_usable, promotions_in_force, split_parts
from app.ledger.rules import engine as rules
from app.stores.models import Store


@dataclass(frozen=True)
class SaleQuote:
    """A sale paid in cash or stored value, as the checkout would post it now."""

    rules: rules.CheckoutQuote
    #: Each promotion that would apply: id, names, the points it adds, the coupon type.
    promotions: tuple[dict[str, Any], ...]
    #: A split tender's parts (``stored_value_fen``, ``cash_fen``), when one was asked.
    split: dict[str, int] | None = None

    @property
    def points_earned(self) -> int:
        """All the sale earns, promotions included (as the checkout's ``points_earned``)."""
        return self.rules.points_earned + sum(p["points"] for p in self.promotions)


def quote_sale(
    card: Card,
    store: Store,
    amount_fen: int,
    *,
    items: Sequence[dict[str, Any]] | None = None,
    points_offset: int = 0,
    stored_value_fen: int | None = None,
) -> SaleQuote:
    """The discount, charge, points offset, points and promotions of a sale, not posted;
    with ``stored_value_fen``, the split tender's parts (checked as the checkout does)."""
    _within_maximum(amount_fen)
    asked = split_parts("cash", stored_value_fen, None)
    ensure_usable(card)
    at = utcnow()
    lines = [dict(i) for i in items] if items is not None else None
    quote = rules.quote_checkout(
        card=card,
        member=card.member,
        store=store,
        amount_fen=amount_fen,
        items=lines,
        points_offset=points_offset,
        at=at,
    )
    offers = promotions_in_force(
        card.member,
        store,
        quote.charged_fen,
        lines,
        at,
        quote.points_earned,
        coupon_codes=False,
    )
    promotions = tuple(
        {k: line[k] for k in ("id", "names", "points", "coupon_type")} for _, _, line, _ in offers
    )
    split = None
    if asked is not None:
        from_card = check_split(asked, quote.charged_fen)
        assert from_card is not None
        split = {"stored_value_fen": from_card, "cash_fen": quote.charged_fen - from_card}
    return SaleQuote(quote, promotions, split)


def quote_recharge(card: Card, amount_fen: int) -> tuple[str | None, int]:
    """(plan name, bonus fen) a recharge of ``amount_fen`` would get now."""
    _within_maximum(amount_fen)
    ensure_usable(card)
    return rules.best_recharge_plan(
        card=card, member=card.member, amount_fen=amount_fen, at=utcnow()
    )


def _within_maximum(amount_fen: int) -> None:
    """The posting's own limit (``MAX_TRANSACTION_FEN``): a quote refuses what it would."""
    maximum = current_app.config["MAX_TRANSACTION_FEN"]
    if amount_fen > maximum:
        raise AmountTooLarge(
            f"amount_fen is more than one transaction may move ({maximum} fen); check for a typo",
            field="amount_fen",
            maximum_fen=maximum,
        )
