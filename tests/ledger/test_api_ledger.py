"""The ledger's HTTP API: worked flow, Idempotency-Key replays, refusals, and the document."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask import Flask
from ledger_support import THURSDAY, WEDNESDAY, counts
from openapi_core import OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
from sqlalchemy import func, select

from app.cards.models import Card
from app.cards.services import change_state, issue_card, set_pin
from app.clock import frozen
from app.db import db
from app.ledger.balances import card_balances
from app.ledger.models import IdempotencyRecord
from app.stores.services import get_store


def rows() -> dict[str, int]:
    db.session.expire_all()
    return {
        **counts(),
        "idempotency_record": db.session.scalar(select(func.count(IdempotencyRecord.id))) or 0,
        "pin_failures": db.session.scalar(select(func.sum(Card.pin_failures))) or 0,
    }


def post(api: Any, path: str, body: Any, key: str | None) -> Any:
    headers = {"Idempotency-Key": key} if key is not None else {}
    return api.post(path, json=body, headers=headers)


def test_recharge_checkout_refund_and_statement(api: Any, member_card: Any) -> None:
    member, card = member_card("Silver")
    with frozen(WEDNESDAY):
        r = post(
            api,
            f"/api/v1/cards/{card.number}/recharge",
            {"amount_fen": 50000, "store": "SH01"},
            "r-1",
        )
        assert r.status_code == 201, r.json
        assert r.json["bonus_fen"] == 5000
        assert r.json["balances"] == {"points": 0, "stored_value_fen": 55000, "visits": 0}
        c = post(
            api,
            "/api/v1/checkout",
            {
                "card": member.phone,
                "store": "SH01",
                "amount_fen": 12000,
                "pay_with": "stored_value",
            },
            "c-1",
        )
    assert c.status_code == 201, c.json
    assert {k: c.json[k] for k in ("discount_fen", "charged_fen", "points_earned")} == {
        "discount_fen": 600,
        "charged_fen": 11400,
        "points_earned": 171,
    }
    assert c.json["balances"] == {"points": 171, "stored_value_fen": 43600, "visits": 0}
    with frozen(THURSDAY):
        f = post(
            api,
            f"/api/v1/transactions/{c.json['transaction_id']}/refund",
            {"amount_fen": 5700},
            "f-1",
        )
    assert f.status_code == 201, f.json
    assert f.json["balances"] == {"points": 86, "stored_value_fen": 49300, "visits": 0}

    s = api.get(f"/api/v1/members/{card.number}/transactions?per_page=2")
    assert s.status_code == 200
    assert s.json["total"] == 3
    refund_entry, checkout_entry = s.json["transactions"]
    assert (refund_entry["kind"], refund_entry["reverses"]) == ("refund", c.json["transaction_id"])
    assert refund_entry["changes"] == {"points": -85, "stored_value_fen": 5700, "visits": 0}
    assert checkout_entry["refunded_by"] == [f.json["transaction_id"]]
    assert checkout_entry["changes"] == {"points": 171, "stored_value_fen": -11400, "visits": 0}
    assert (checkout_entry["points_after"], checkout_entry["store"]) == (171, "SH01")
    page2 = api.get(f"/api/v1/members/{card.number}/transactions?per_page=2&page=2").json
    assert [t["kind"] for t in page2["transactions"]] == ["recharge"]


def test_same_key_same_body_replays_exactly(api: Any, member_card: Any) -> None:
    _, card = member_card()
    body = {"amount_fen": 10000, "store": "SH01"}
    first = post(api, f"/api/v1/cards/{card.number}/recharge", body, "k-1")
    assert first.status_code == 201
    before = rows()
    again = post(api, f"/api/v1/cards/{card.number}/recharge", body, "k-1")
    assert (again.status_code, again.get_data()) == (first.status_code, first.get_data())
    assert again.headers["Idempotent-Replayed"] == "true"
    assert rows() == before
    assert card_balances(card.id).stored_value_fen == 10000

    other = post(api, f"/api/v1/cards/{card.number}/recharge", {**body, "amount_fen": 1}, "k-1")
    assert (other.status_code, other.json["error"]["code"]) == (409, "idempotency_conflict")
    elsewhere = post(
        api,
        "/api/v1/checkout",
        {"card": card.number, "store": "SH01", "amount_fen": 1, "pay_with": "cash"},
        "k-1",
    )
    assert elsewhere.status_code == 409
    assert rows() == before


def test_the_key_is_required_and_bounded(api: Any, member_card: Any) -> None:
    _, card = member_card()
    before = rows()
    for key in (None, "", "x" * 201):
        r = post(
            api, f"/api/v1/cards/{card.number}/recharge", {"amount_fen": 100, "store": "SH01"}, key
        )
        assert (r.status_code, r.json["error"]["code"]) == (400, "invalid_request")
        assert r.json["error"]["details"]["field"] == "Idempotency-Key"
    assert rows() == before


def test_keys_belong_to_the_callers_store(api: Any, member_card: Any, make_api_key: Any) -> None:
    _, card = member_card()
    body = {"amount_fen": 100, "store": "SH01"}
    assert post(api, f"/api/v1/cards/{card.number}/recharge", body, "same").status_code == 201
    other_store = make_api_key("SH02")
    r = api.client.post(
        f"/api/v1/cards/{card.number}/recharge",
        json={"amount_fen": 100, "store": "SH02"},
        headers={"Authorization": f"Bearer {other_store}", "Idempotency-Key": "same"},
    )
    assert r.status_code == 201
    assert card_balances(card.id).stored_value_fen == 200


def test_refusals_write_nothing_and_are_not_remembered(api: Any, member_card: Any) -> None:
    _, card = member_card()
    body = {"card": card.number, "store": "SH01", "amount_fen": 5000, "pay_with": "stored_value"}
    before = rows()
    r = post(api, "/api/v1/checkout", body, "c-1")
    assert (r.status_code, r.json["error"]["code"]) == (409, "insufficient_funds")
    assert r.json["error"]["details"] == {
        "asset": "stored_value_paid",
        "needed": 5000,
        "available": 0,
    }
    assert rows() == before
    # The refusal was not stored: after a recharge the same key goes through.
    post(api, f"/api/v1/cards/{card.number}/recharge", {"amount_fen": 5000, "store": "SH01"}, "r-1")
    assert post(api, "/api/v1/checkout", body, "c-1").status_code == 201
    assert card_balances(card.id).stored_value_fen == 0


@pytest.mark.parametrize(
    ("setup", "body", "status", "code"),
    [
        ("frozen", {}, 409, "card_not_active"),
        (None, {"store": "SH02"}, 403, "forbidden"),
        (None, {"card": "8800000000000000"}, 404, "not_found"),
        (None, {"pay_with": "iou"}, 400, "invalid_request"),
        (None, {"amount_fen": -1}, 400, "invalid_request"),
        (None, {"points_offset": 150}, 400, "invalid_request"),
        ("pin", {}, 403, "pin_required"),
    ],
)
def test_checkout_refusals(
    api: Any, member_card: Any, setup: Any, body: Any, status: int, code: str
) -> None:
    _, card = member_card()
    post(api, f"/api/v1/cards/{card.number}/recharge", {"amount_fen": 5000, "store": "SH01"}, "r-1")
    if setup == "frozen":
        change_state(card, "freeze")
    elif setup == "pin":
        set_pin(card, "2468")
    before = rows()
    full = {
        "card": card.number,
        "store": "SH01",
        "amount_fen": 1000,
        "pay_with": "stored_value",
        **body,
    }
    with frozen(THURSDAY):
        r = post(api, "/api/v1/checkout", full, "c-1")
    assert (r.status_code, r.json["error"]["code"]) == (status, code), r.json
    assert rows() == before


def test_wrong_pins_count_but_leave_no_key_behind(api: Any, member_card: Any) -> None:
    _, card = member_card()
    set_pin(card, "2468")
    post(api, f"/api/v1/cards/{card.number}/recharge", {"amount_fen": 5000, "store": "SH01"}, "r-1")
    body = {"card": card.number, "store": "SH01", "amount_fen": 1000, "pay_with": "stored_value"}
    for n in range(4):
        r = post(api, "/api/v1/checkout", {**body, "pin": "0000"}, "c-1")
        assert (r.status_code, r.json["error"]["details"]["attempts_left"]) == (403, 4 - n)
    locked = post(api, "/api/v1/checkout", {**body, "pin": "0000"}, "c-1")
    assert (locked.status_code, locked.json["error"]["code"]) == (423, "pin_locked")
    assert db.session.scalar(select(func.count(IdempotencyRecord.id))) == 1  # the recharge's
    assert card_balances(card.id).stored_value_fen == 5000


def test_refund_refusals(api: Any, member_card: Any) -> None:
    _, card = member_card()
    rc = post(
        api, f"/api/v1/cards/{card.number}/recharge", {"amount_fen": 5000, "store": "SH01"}, "r-1"
    )
    c = post(
        api,
        "/api/v1/checkout",
        {"card": card.number, "store": "SH01", "amount_fen": 1000, "pay_with": "stored_value"},
        "c-1",
    )
    before = rows()
    too_much = post(
        api, f"/api/v1/transactions/{c.json['transaction_id']}/refund", {"amount_fen": 1001}, "f-1"
    )
    assert (too_much.status_code, too_much.json["error"]["code"]) == (
        409,
        "refund_exceeds_purchase",
    )
    assert too_much.json["error"]["details"]["refundable_fen"] == 1000
    recharge_refund = post(
        api, f"/api/v1/transactions/{rc.json['transaction_id']}/refund", None, "f-2"
    )
    assert (recharge_refund.status_code, recharge_refund.json["error"]["code"]) == (
        409,
        "not_refundable",
    )
    missing = post(api, "/api/v1/transactions/999999/refund", {}, "f-3")
    assert missing.status_code == 404
    assert rows() == before
    whole = post(api, f"/api/v1/transactions/{c.json['transaction_id']}/refund", None, "f-4")
    assert whole.status_code == 201
    again = post(api, f"/api/v1/transactions/{whole.json['transaction_id']}/refund", None, "f-5")
    assert (again.status_code, again.json["error"]["code"]) == (409, "not_refundable")


def test_gift_card_recharge_refused(api: Any, ledger_rules: Any) -> None:
    card = issue_card("gift", store=get_store("SH01"))
    before = rows()
    r = post(
        api, f"/api/v1/cards/{card.number}/recharge", {"amount_fen": 100, "store": "SH01"}, "g-1"
    )
    assert (r.status_code, r.json["error"]["code"]) == (409, "not_rechargeable")
    assert rows() == before


# --- the OpenAPI document -------------------------------------------------------------


class _Sent(WerkzeugOpenAPIRequest):
    @property
    def body(self) -> bytes:
        return b""


def test_every_ledger_answer_matches_the_document(
    api: Any, client: Any, member_card: Any, app: Flask, make_api_key: Any
) -> None:
    import re

    spec = client.get("/api/v1/openapi.json").json
    openapi = OpenAPI.from_dict(spec)
    seen: set[tuple[str, str, str]] = set()

    def check(response: Any) -> Any:
        request = _Sent(response.request)
        openapi.validate_response(request, WerkzeugOpenAPIResponse(response))
        rule, _ = app.url_map.bind("localhost").match(
            response.request.path, method=response.request.method, return_rule=True
        )
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        seen.add((response.request.method.lower(), path, str(response.status_code)))
        return response

    _member, card = member_card()
    set_pin(card, "2468")
    recharge = f"/api/v1/cards/{card.number}/recharge"
    check(post(api, recharge, {"amount_fen": 5000, "store": "SH01"}, "r-1"))  # 201
    check(post(api, recharge, {"amount_fen": 0, "store": "SH01"}, "r-2"))  # 400
    check(post(api, recharge, {"amount_fen": 1, "store": "SH02"}, "r-3"))  # 403
    check(
        post(
            api,
            "/api/v1/cards/8800000000000000/recharge",
            {"amount_fen": 1, "store": "SH01"},
            "r-4",
        )
    )
    check(post(api, recharge, {"amount_fen": 1, "store": "SH01"}, "r-1"))  # 409 conflict
    check(client.post(recharge, json={}))  # 401
    check(
        api.post(recharge, headers={"Idempotency-Key": "x"}, data="hi", content_type="text/plain")
    )
    huge_body = b"[" + b" " * client.application.config["MAX_CONTENT_LENGTH"] + b"]"

    def oversized(path: str) -> Any:
        response = check(
            api.post(
                path,
                headers={"Idempotency-Key": "big"},
                data=huge_body,
                content_type="application/json",
            )
        )
        assert response.status_code == 413
        assert response.json["error"]["code"] == "payload_too_large"
        return response

    oversized(recharge)

    body = {
        "card": card.number,
        "store": "SH01",
        "amount_fen": 1000,
        "pay_with": "stored_value",
        "pin": "2468",
    }
    bought = check(post(api, "/api/v1/checkout", body, "c-1"))  # 201
    check(post(api, "/api/v1/checkout", {**body, "pay_with": "x"}, "c-2"))  # 400
    check(post(api, "/api/v1/checkout", {**body, "store": "SH02"}, "c-3"))  # 403
    check(post(api, "/api/v1/checkout", {**body, "card": "nope"}, "c-4"))  # 404
    check(post(api, "/api/v1/checkout", {**body, "amount_fen": 10**6}, "c-5"))  # 409
    too_large = check(post(api, "/api/v1/checkout", {**body, "amount_fen": 10**8}, "c-6"))
    assert (too_large.status_code, too_large.json["error"]["code"]) == (400, "amount_too_large")
    check(client.post("/api/v1/checkout", json=body))  # 401
    check(
        api.post(
            "/api/v1/checkout",
            headers={"Idempotency-Key": "x"},
            data="hi",
            content_type="text/plain",
        )
    )
    oversized("/api/v1/checkout")
    for n in range(5):
        last = check(post(api, "/api/v1/checkout", {**body, "pin": "0000"}, f"p-{n}"))
    assert last.status_code == 423

    refund = f"/api/v1/transactions/{bought.json['transaction_id']}/refund"
    check(post(api, refund, {"amount_fen": 100}, "f-1"))  # 201
    other_store = api.client.post(
        refund,
        json={"amount_fen": 100},
        headers={"Authorization": f"Bearer {make_api_key('SH02')}", "Idempotency-Key": "f-9"},
    )
    assert check(other_store).status_code == 403
    check(post(api, refund, {"amount_fen": 0}, "f-2"))  # 400
    check(post(api, "/api/v1/transactions/999999/refund", {}, "f-3"))  # 404
    check(post(api, refund, {"amount_fen": 10**6}, "f-4"))  # 409
    check(client.post(refund, json={}))  # 401
    check(api.post(refund, headers={"Idempotency-Key": "x"}, data="hi", content_type="text/plain"))
    oversized(refund)

    spare = issue_card("stored_value", member=_member, store=get_store("SH01"))
    give_back = f"/api/v1/cards/{spare.number}/return"
    check(post(api, give_back, {"reason": ""}, "ret-1"))  # 400
    check(post(api, "/api/v1/cards/8800000000000000/return", {"reason": "r"}, "ret-2"))  # 404
    check(client.post(give_back, json={"reason": "r"}))  # 401
    check(
        api.post(give_back, headers={"Idempotency-Key": "x"}, data="hi", content_type="text/plain")
    )
    oversized(give_back)
    returned = check(post(api, give_back, {"reason": "moved away"}, "ret-3"))
    assert returned.status_code == 201
    again = check(post(api, give_back, {"reason": "moved away"}, "ret-4"))
    assert (again.status_code, again.json["error"]["code"]) == (409, "card_not_active")

    statement = f"/api/v1/members/{card.number}/transactions"
    check(api.get(statement))
    check(api.get(statement + "?page=0"))
    check(api.get("/api/v1/members/13912345678/transactions"))
    check(client.get(statement))

    documented = {
        (method, path, status)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in {"get", "post"} and "ledger" in {t.lower() for t in operation["tags"]}
        for status in operation["responses"]
    }
    assert documented, "the ledger operations are not in the document"
    assert not documented - seen, f"documented answers never exercised: {sorted(documented - seen)}"
    assert not seen - documented, f"answers outside the document: {sorted(seen - documented)}"
    params = spec["paths"]["/api/v1/checkout"]["post"]["parameters"]
    assert {"in": "header", "name": "Idempotency-Key"}.items() <= params[0].items()


def test_visits_and_dates_stay_integers(api: Any, ledger_rules: Any) -> None:
    """A count card checkout through the API: one visit per checkout."""
    from app.ledger.operations import load_value

    card = issue_card("count", store=get_store("SH01"))
    load_value(card, 0, visits=2, idempotency_key="load-c", actor="test")
    body = {"card": card.number, "store": "SH01", "amount_fen": 3000, "pay_with": "visits"}
    with frozen(dt.datetime(2026, 11, 26, 4, tzinfo=dt.UTC)):
        r = post(api, "/api/v1/checkout", body, "v-1")
    assert r.json["balances"] == {"points": 0, "stored_value_fen": 0, "visits": 1}


def test_replacing_a_card_over_the_api_moves_its_balances(api: Any, member_card: Any) -> None:
    member, card = member_card()
    post(api, f"/api/v1/cards/{card.number}/recharge", {"amount_fen": 50000, "store": "SH01"}, "r")
    body = {"card": card.number, "store": "SH01", "amount_fen": 10000, "pay_with": "stored_value"}
    post(api, "/api/v1/checkout", body, "c")
    replaced = api.post(f"/api/v1/cards/{card.number}/replace", json={})
    assert replaced.status_code == 200, replaced.json
    new_number = replaced.json["card"]["number"]
    shown = api.get(f"/api/v1/members/{member.phone}").json
    assert shown["balances"] == {"points": 100, "stored_value_fen": 45000, "visits": 0}
    statement = api.get(f"/api/v1/members/{member.phone}/transactions").json["transactions"]
    assert (statement[0]["kind"], statement[0]["card"]) == ("transfer", new_number)
    assert statement[0]["changes"] == {"points": 100, "stored_value_fen": 45000, "visits": 0}
    # The old number stopped working for postings too.
    gone = post(api, "/api/v1/checkout", {**body, "amount_fen": 100}, "c2")
    assert (gone.status_code, gone.json["error"]["code"]) == (404, "not_found")
