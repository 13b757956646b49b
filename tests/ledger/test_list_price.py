"""``list_price``: a cash sale the till already charged at the list price (a store station
offline, sent when the line is back). Posted as charged: no level or card discount; points
on what was paid. Refused with anything but plain cash, writing nothing.

A Silver member (95%) on a Thursday (no member day): a 300.00 bill would charge 285.00; at
the list price it charges 300.00 and earns 300 points.
"""

from __future__ import annotations

from typing import Any

import pytest
from ledger_support import THURSDAY, card_lines, counts

from app.clock import frozen
from app.db import db
from app.ledger.models import Transaction

SALE = {"store": "SH01", "amount_fen": 30000, "pay_with": "cash"}


def post(api: Any, body: dict[str, Any], key: str) -> Any:
    with frozen(THURSDAY):
        return api.post("/api/v1/checkout", json=body, headers={"Idempotency-Key": key})


def test_a_sale_at_the_list_price_is_posted_as_charged_and_replays(
    api: Any, member_card: Any
) -> None:
    _, card = member_card("Silver")
    discounted = post(api, {**SALE, "card": card.number}, "online")
    assert discounted.json["charged_fen"] == 28500

    body = {**SALE, "card": card.number, "list_price": True}
    sold = post(api, body, "offline-1")
    assert sold.status_code == 201, sold.json
    assert (sold.json["discount_fen"], sold.json["charged_fen"]) == (0, 30000)
    assert sold.json["points_earned"] == 300
    txn = db.session.get(Transaction, sold.json["transaction_id"])
    assert txn is not None and (txn.amount_fen, txn.charged_fen) == (30000, 30000)
    assert "list_price" in txn.details["applied"]
    assert card_lines(txn.id) == {"points": 300}

    before = counts()
    again = post(api, body, "offline-1")
    assert again.status_code == 201 and again.json == sold.json
    # The same key with the discount asked for instead is another request: refused.
    other = post(api, {**SALE, "card": card.number}, "offline-1")
    assert other.status_code == 409, other.json
    assert counts() == before


@pytest.mark.parametrize(
    "extra",
    [
        {"pay_with": "stored_value"},
        {"pay_with": "points"},
        {"stored_value_fen": 100},
        {"points_offset": 100},
        {"coupons": ["NOPE"]},
    ],
)
def test_list_price_with_anything_but_plain_cash_is_refused_and_writes_nothing(
    api: Any, member_card: Any, extra: dict[str, Any]
) -> None:
    _, card = member_card("Silver")
    before = counts()
    refused = post(api, {**SALE, "card": card.number, "list_price": True, **extra}, "bad")
    assert refused.status_code == 400, refused.json
    assert refused.json["error"]["code"] == "invalid_request"
    assert counts() == before
