"""The API additions for stations: staff sign-in, the staff recorded on postings, the day."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from app.auth.services import create_staff, reset_password
from app.db import db
from app.ledger.models import Transaction
from app.ledger.rules.io import import_rules

PASSWORD = "counter-password-1"
EXAMPLE_RULES = Path(__file__).parents[2] / "docs" / "rules.example.json"


@pytest.fixture
def cashier(app: Any, make_store: Callable[..., Any]) -> Any:
    for code in ("SH01", "BJ01"):
        make_store(code)
    import_rules(json.loads(EXAMPLE_RULES.read_text()))
    staff = create_staff("alice", PASSWORD, role="cashier", store_code="SH01", display_name="Alice")
    db.session.flush()
    return staff


def _verify(api: Any, username: str = "alice", password: str = PASSWORD) -> Any:
    return api.post("/api/v1/staff/verify", json={"username": username, "password": password})


def _checkout(api: Any, card: str, amount: int, pay_with: str, key: str, token: str | None) -> Any:
    headers = {"Idempotency-Key": key}
    if token:
        headers["X-Laoyou-Staff"] = token
    return api.post(
        "/api/v1/checkout",
        json={"card": card, "store": "SH01", "amount_fen": amount, "pay_with": pay_with},
        headers=headers,
    )


def test_staff_sign_in_and_the_checkout_records_the_staff(
    api: Any, cashier: Any, make_member: Callable[..., Any]
) -> None:
    answer = _verify(api)
    assert answer.status_code == 200, answer.json
    assert answer.json["staff"]["username"] == "alice"
    assert answer.json["store"] == "SH01"
    token = answer.json["token"]
    member = make_member("+8613800138000")
    sold = _checkout(api, member.phone, 10000, "cash", "s-1", token)
    assert sold.status_code == 201, sold.json
    txn = db.session.get(Transaction, sold.json["transaction_id"])
    assert txn is not None and txn.actor == "staff:alice"
    # Without the token the same API key is the actor.
    plain = _checkout(api, member.phone, 500, "cash", "s-2", None)
    assert db.session.get(Transaction, plain.json["transaction_id"]).actor.startswith("apikey:")


def test_wrong_password_locks_and_other_store_is_refused(
    api: Any, cashier: Any, make_store: Callable[..., Any]
) -> None:
    assert _verify(api, password="wrong").json["error"]["code"] == "sign_in_failed"
    for _ in range(4):
        last = _verify(api, password="wrong")
    assert last.status_code == 423 and last.json["error"]["code"] == "account_locked"
    # Locked: even the right password waits.
    assert _verify(api).status_code == 423
    make_store("BJ01")
    create_staff("bob", PASSWORD, role="cashier", store_code="BJ01")
    db.session.flush()
    other = _verify(api, "bob")
    assert other.status_code == 403 and other.json["error"]["code"] == "forbidden"
    marketer = create_staff("mark", PASSWORD, role="marketer")
    db.session.flush()
    assert marketer and _verify(api, "mark").status_code == 403


@pytest.mark.parametrize("token", ["garbage", "x" * 600, "eyJzIjoxfQ.bad.sig", "\u4e2d\u6587"])
def test_a_bad_staff_token_is_401_and_posts_nothing(
    api: Any, cashier: Any, make_member: Callable[..., Any], token: str
) -> None:
    member = make_member("+8613800138001")
    before = db.session.query(Transaction).count()
    answer = _checkout(
        api, member.phone, 100, "cash", "bad-token", token.encode().decode("latin-1")
    )
    assert answer.status_code == 401
    assert db.session.query(Transaction).count() == before


def test_a_reset_password_ends_the_token_and_another_key_cannot_use_it(
    api: Any, cashier: Any, make_member: Callable[..., Any], make_api_key: Callable[..., str]
) -> None:
    token = _verify(api).json["token"]
    member = make_member("+8613800138002")
    other_key = make_api_key("SH01")
    headers = {"Authorization": f"Bearer {other_key}", "X-Laoyou-Staff": token}
    other = api.client.get("/api/v1/stores", headers=headers)
    assert other.status_code == 401
    reset_password(cashier, "another-password-2")
    db.session.flush()
    assert _checkout(api, member.phone, 100, "cash", "after-reset", token).status_code == 401


def test_the_day_per_staff(api: Any, cashier: Any, make_member: Callable[..., Any]) -> None:
    create_staff("bob", PASSWORD, role="store_manager", store_code="SH01", display_name="Bob")
    db.session.flush()
    alice = _verify(api).json["token"]
    bob = _verify(api, "bob").json["token"]
    member = make_member("+8613800138003")
    card = member.phone
    recharge = api.post(
        f"/api/v1/cards/{card}/recharge",
        json={"amount_fen": 50000, "store": "SH01"},
        headers={"Idempotency-Key": "r-1", "X-Laoyou-Staff": bob},
    )
    assert recharge.status_code == 201, recharge.json
    a1 = _checkout(api, card, 10000, "cash", "d-1", alice).json["charged_fen"]
    a2 = _checkout(api, card, 2000, "cash", "d-2", alice).json["charged_fen"]
    b1 = _checkout(api, card, 3000, "stored_value", "d-3", bob).json["charged_fen"]
    sold = _checkout(api, card, 500, "cash", "d-4", bob).json
    b2 = sold["charged_fen"]
    refund = api.post(
        f"/api/v1/transactions/{sold['transaction_id']}/refund",
        json={},
        headers={"Idempotency-Key": "rf-1", "X-Laoyou-Staff": bob},
    )
    assert refund.status_code == 201, refund.json
    assert refund.json["refunded_fen"] == b2
    day = api.get("/api/v1/stores/SH01/day")
    assert day.status_code == 200, day.json
    body = day.json
    assert body["new_members"] == 1
    totals = body["totals"]
    assert totals["sales"] == 4
    assert totals["sales_fen"] == a1 + a2 + b1 + b2
    assert totals["discount_fen"] == 15500 - (a1 + a2 + b1 + b2) > 0
    assert totals["sales_by_pay_with_fen"] == {"cash": a1 + a2 + b2, "stored_value": b1}
    assert totals["recharges_fen"] == 50000
    assert totals["refunds"] == 1 and totals["refunds_fen"] == b2
    # Cash: the cash sales + 50,000 recharged - the cash refunded.
    assert totals["cash_expected_fen"] == a1 + a2 + 50000
    rows = {row["actor"]: row for row in body["staff"]}
    assert rows["staff:alice"]["sales"] == 2 and rows["staff:alice"]["sales_fen"] == a1 + a2
    assert rows["staff:alice"]["display_name"] == "Alice"
    assert rows["staff:alice"]["cash_expected_fen"] == a1 + a2
    assert rows["staff:bob"]["sales"] == 2 and rows["staff:bob"]["refunds"] == 1
    assert rows["staff:bob"]["cash_expected_fen"] == 50000
    assert totals["points_issued"] == sum(r["points_issued"] for r in body["staff"])
    assert totals["points_issued"] > 0, (sold, body)


@pytest.mark.parametrize(
    "query", ["?date=2026-02-30", "?date=yesterday", "?date=99999-01-01", "?day=2026-01-01"]
)
def test_the_day_refuses_bad_dates(api: Any, query: str) -> None:
    answer = api.get("/api/v1/stores/SH01/day" + query)
    assert answer.status_code == 400, answer.json
    assert answer.json["error"]["code"] == "invalid_request"


def test_the_day_of_another_store_is_403(api: Any, make_store: Callable[..., Any]) -> None:
    make_store("BJ01")
    assert api.get("/api/v1/stores/BJ01/day").status_code == 403


def test_quotes_match_what_the_posting_then_does(
    api: Any, cashier: Any, make_member: Callable[..., Any]
) -> None:
    member = make_member("+8613800138005")
    quote = api.post("/api/v1/checkout/quote", json={"card": member.phone, "amount_fen": 10000})
    assert quote.status_code == 200, quote.json
    sold = _checkout(api, member.phone, 10000, "cash", "q-1", None).json
    assert quote.json["discount_fen"] == sold["discount_fen"] > 0
    assert quote.json["charged_fen"] == sold["charged_fen"]
    assert quote.json["points_earned"] == sold["points_earned"]
    bonus = api.post("/api/v1/recharge/quote", json={"card": member.phone, "amount_fen": 100000})
    assert bonus.status_code == 200, bonus.json
    done = api.post(
        f"/api/v1/cards/{member.phone}/recharge",
        json={"amount_fen": 100000, "store": "SH01"},
        headers={"Idempotency-Key": "q-r"},
    )
    assert bonus.json["bonus_fen"] == done.json["bonus_fen"]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"card": "nobody", "amount_fen": 100}, 404),
        ({"card": "+8613800138006", "amount_fen": 1.5}, 400),
        ({"card": "+8613800138006", "amount_fen": 10**12}, 400),
        ({"card": "+8613800138006", "amount_fen": -1}, 400),
        ({"card": "+8613800138006\u0000", "amount_fen": 1}, 400),
    ],
)
def test_quotes_refuse_bad_input(
    api: Any, cashier: Any, make_member: Callable[..., Any], body: dict[str, Any], status: int
) -> None:
    make_member("+8613800138006")
    for path in ("/api/v1/checkout/quote", "/api/v1/recharge/quote"):
        answer = api.post(path, json=body)
        assert answer.status_code == status, (path, answer.json)


def test_the_document_describes_the_station_api(client: Any) -> None:
    document = client.get("/api/v1/openapi.json").json
    paths = document["paths"]
    for path in ("/api/v1/staff/verify", "/api/v1/checkout/quote", "/api/v1/recharge/quote"):
        assert "post" in paths[path], path
    assert "get" in paths["/api/v1/stores/{code}/day"]
    headers = {p["name"] for p in paths["/api/v1/checkout"]["post"]["parameters"]}
    assert {"Idempotency-Key", "X-Laoyou-Staff"} <= headers
    quote = document["components"]["schemas"]["SaleQuote"]["properties"]
    assert quote["points_offset"]["multipleOf"] == 100
