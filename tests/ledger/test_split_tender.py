"""Split tender over the API: part stored value, the rest cash, in one checkout.

A Silver member (95%) on a Thursday (no member day): a 300.00 bill charges 285.00 and
earns 285 points however it is paid. The card holds 200.00 paid in; 200.00 of the bill
comes from it and 85.00 in cash.
"""

from __future__ import annotations

from typing import Any

import pytest
from ledger_support import THURSDAY, card_lines, counts
from sqlalchemy import func, select

from app.cards.services import set_pin
from app.clock import frozen
from app.db import db
from app.ledger.balances import card_balances
from app.ledger.models import IdempotencyRecord, Transaction

SALE = {"store": "SH01", "amount_fen": 30000, "pay_with": "cash"}


def rows() -> dict[str, int]:
    db.session.expire_all()
    records = db.session.scalar(select(func.count(IdempotencyRecord.id))) or 0
    return {**counts(), "idempotency_record": records}


def post(api: Any, path: str, body: dict[str, Any], key: str) -> Any:
    with frozen(THURSDAY):
        return api.post(path, json=body, headers={"Idempotency-Key": key})


@pytest.fixture
def silver(api: Any, member_card: Any) -> Any:
    """A Silver member's card with 200.00 of stored value paid in (no bonus)."""
    _, card = member_card("Silver")
    paid = post(
        api, f"/api/v1/cards/{card.number}/recharge", {"amount_fen": 20000, "store": "SH01"}, "r"
    )
    assert paid.status_code == 201 and paid.json["bonus_fen"] == 0, paid.json
    return card


def test_a_split_sale_is_one_transaction_with_both_parts_and_replays(
    api: Any, silver: Any, member_card: Any
) -> None:
    quote = post(
        api,
        "/api/v1/checkout/quote",
        {"card": silver.number, "amount_fen": 30000, "stored_value_fen": 20000},
        "unused",
    )
    assert quote.status_code == 200, quote.json
    assert quote.json["charged_fen"] == 28500
    assert quote.json["split"] == {"stored_value_fen": 20000, "cash_fen": 8500}
    plain_quote = post(
        api, "/api/v1/checkout/quote", {"card": silver.number, "amount_fen": 30000}, "unused"
    )
    assert plain_quote.json["split"] is None

    body = {**SALE, "card": silver.number, "stored_value_fen": 20000}
    sold = post(api, "/api/v1/checkout", body, "split-1")
    assert sold.status_code == 201, sold.json
    answer = sold.json
    assert (answer["charged_fen"], answer["stored_value_fen"], answer["cash_fen"]) == (
        28500,
        20000,
        8500,
    )
    assert answer["points_earned"] == 285  # the whole charge earns, as cash or card alone
    assert answer["balances"] == {"points": 285, "stored_value_fen": 0, "visits": 0}
    txn = db.session.get(Transaction, answer["transaction_id"])
    assert txn is not None and txn.kind == "checkout" and txn.charged_fen == 28500
    assert card_lines(txn.id) == {"stored_value_paid": -20000, "points": 285}
    assert (txn.details["stored_value_fen"], txn.details["cash_fen"]) == (20000, 8500)

    before = rows()
    again = post(api, "/api/v1/checkout", body, "split-1")
    assert (again.status_code, again.get_data()) == (201, sold.get_data())
    assert again.headers["Idempotent-Replayed"] == "true"
    assert rows() == before
    # The same key with another split is another request.
    other = post(api, "/api/v1/checkout", {**body, "stored_value_fen": 10000}, "split-1")
    assert (other.status_code, other.json["error"]["code"]) == (409, "idempotency_conflict")
    assert rows() == before

    # Paid all in cash, the same bill earns the same points.
    _, cash_card = member_card("Silver")
    cash = post(api, "/api/v1/checkout", {**SALE, "card": cash_card.number}, "cash-1")
    assert (cash.json["points_earned"], cash.json["stored_value_fen"], cash.json["cash_fen"]) == (
        285,
        0,
        28500,
    )


def test_cash_fen_states_the_cash_part_and_must_match(api: Any, silver: Any) -> None:
    body = {**SALE, "card": silver.number, "stored_value_fen": 20000}
    before = rows()
    wrong = post(api, "/api/v1/checkout", {**body, "cash_fen": 10000}, "c-wrong")
    assert wrong.status_code == 400
    assert wrong.json["error"]["code"] == "split_mismatch"
    assert wrong.json["error"]["details"]["charged_fen"] == 28500
    assert rows() == before
    right = post(api, "/api/v1/checkout", {**body, "cash_fen": 8500}, "c-right")
    assert right.status_code == 201, right.json
    assert right.json["cash_fen"] == 8500


@pytest.mark.parametrize(
    ("extra", "code"),
    [
        ({"stored_value_fen": -100}, "invalid_request"),
        ({"stored_value_fen": 0}, "invalid_request"),
        ({"stored_value_fen": 100.5}, "invalid_request"),
        ({"stored_value_fen": "100"}, "invalid_request"),
        ({"stored_value_fen": True}, "invalid_request"),
        ({"stored_value_fen": 10**15}, "amount_too_large"),
        ({"stored_value_fen": 100, "cash_fen": -1}, "invalid_request"),
        ({"stored_value_fen": 100, "pay_with": "stored_value"}, "invalid_request"),
        ({"stored_value_fen": 100, "pay_with": "points"}, "invalid_request"),
        ({"cash_fen": 100}, "invalid_request"),
        ({"stored_value_fen": 28500}, "split_mismatch"),  # no cash left: not a split
        ({"stored_value_fen": 30000}, "split_mismatch"),  # more than the discounted bill
    ],
)
def test_bad_parts_are_a_400_and_write_nothing(
    api: Any, silver: Any, extra: dict[str, Any], code: str
) -> None:
    before = rows()
    refused = post(api, "/api/v1/checkout", {**SALE, "card": silver.number, **extra}, "bad")
    assert refused.status_code == 400, refused.json
    assert refused.json["error"]["code"] == code
    assert rows() == before
    assert card_balances(silver.id).stored_value_fen == 20000


def test_a_short_card_and_a_missing_pin_are_refused_as_for_stored_value(
    api: Any, silver: Any
) -> None:
    before = rows()
    short = post(
        api, "/api/v1/checkout", {**SALE, "card": silver.number, "stored_value_fen": 25000}, "s"
    )
    assert (short.status_code, short.json["error"]["code"]) == (409, "insufficient_funds")
    assert rows() == before
    set_pin(silver, "2468")
    db.session.commit()
    before = rows()
    body = {**SALE, "card": silver.number, "stored_value_fen": 10000}
    no_pin = post(api, "/api/v1/checkout", body, "p-1")
    assert (no_pin.status_code, no_pin.json["error"]["code"]) == (403, "pin_required")
    assert rows() == before
    with_pin = post(api, "/api/v1/checkout", {**body, "pin": "2468"}, "p-2")
    assert with_pin.status_code == 201, with_pin.json
    assert card_balances(silver.id).stored_value_fen == 10000


def test_a_refund_gives_each_part_back_where_it_came_from_and_the_day_counts_cash(
    api: Any, silver: Any
) -> None:
    sold = post(
        api, "/api/v1/checkout", {**SALE, "card": silver.number, "stored_value_fen": 20000}, "s-1"
    ).json
    refund_path = f"/api/v1/transactions/{sold['transaction_id']}/refund"
    # A fifth of the sale: a fifth of each part.
    part = post(api, refund_path, {"amount_fen": 5700}, "f-1")
    assert part.status_code == 201, part.json
    assert (part.json["stored_value_back_fen"], part.json["cash_back_fen"]) == (4000, 1700)
    assert part.json["points_taken_back"] == 57
    assert part.json["balances"] == {"points": 228, "stored_value_fen": 4000, "visits": 0}
    with frozen(THURSDAY):
        day = api.get("/api/v1/stores/SH01/day?date=2026-11-26").json["totals"]
    assert day["sales_by_pay_with_fen"] == {"stored_value": 20000, "cash": 8500}
    # Recharged 200.00 and took 85.00 of the sale in cash; gave 17.00 back in cash.
    assert day["cash_expected_fen"] == 20000 + 8500 - 1700
    assert (day["sales_fen"], day["refunds_fen"]) == (28500, 5700)

    rest = post(api, refund_path, {}, "f-2")
    assert rest.status_code == 201, rest.json
    assert (rest.json["stored_value_back_fen"], rest.json["cash_back_fen"]) == (16000, 6800)
    assert rest.json["balances"] == {"points": 0, "stored_value_fen": 20000, "visits": 0}
    replay = post(api, refund_path, {}, "f-2")
    assert replay.get_data() == rest.get_data()
    with frozen(THURSDAY):
        day = api.get("/api/v1/stores/SH01/day?date=2026-11-26").json["totals"]
    assert day["cash_expected_fen"] == 20000  # only the recharge stays in the drawer


def test_the_split_is_in_the_openapi_document(client: Any) -> None:
    spec = client.get("/api/v1/openapi.json").json
    schemas = spec["components"]["schemas"]
    checkout = schemas["Checkout"]["properties"]
    assert "stored_value_fen" in checkout and "cash_fen" in checkout
    assert checkout["stored_value_fen"]["minimum"] == 1
    assert "split_mismatch" in checkout["stored_value_fen"]["description"]
    assert {"stored_value_fen", "cash_fen"} <= set(schemas["CheckoutResult"]["required"])
    assert {"stored_value_back_fen", "cash_back_fen"} <= set(schemas["RefundResult"]["required"])
    assert "split" in schemas["SaleQuoteResult"]["properties"]
