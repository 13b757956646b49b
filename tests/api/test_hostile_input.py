"""Hostile input never ends in a 500: each case is a 4xx JSON error and changes nothing.

Run on SQLite and PostgreSQL; PostgreSQL is where a NUL character and integers
beyond a column used to end in "internal error".
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.cards.models import Card, CardEvent
from app.db import db
from app.ledger.models import IdempotencyRecord, Line, Transaction
from app.ledger.redemption import services as redemption
from app.ledger.redemption.models import Coupon, Redemption
from app.ledger.rules.io import import_rules
from app.limits import MAX_ANSWERS, MAX_ITEMS, MAX_JSON_DEPTH
from app.members.models import Member

PHONE = "+8613800138000"

RULES: dict[str, Any] = {
    "version": 1,
    "earning": {"points_per_yuan_bp": 10000},
    "levels": [{"name": "Regular", "rank": 1, "discount_bp": 10000, "upgrade_threshold": 0}],
    "growth": {"source": "spend", "rate_bp": 10000},
    "redemption": {
        "offset_points_per_yuan": 100,
        "max_offset_bp": 10000,
        "gifts": [{"code": "MUG", "name": "Mug", "points_cost": 10, "stock": 5}],
        "coupon_types": [
            {"code": "C90", "name": "10% off", "kind": "coupon", "discount_bp": 9000,
             "valid_days": 14, "points_cost": 10},
        ],
    },
}  # fmt: skip


@pytest.fixture
def shop(api: Any, make_store: Any, make_member: Any) -> dict[str, Any]:
    """A member with money and points, a checkout to refund and a coupon to use."""
    make_store("SH01")
    import_rules(RULES)
    member = make_member(PHONE, name="王小明")
    card = db.session.scalar(select(Card).where(Card.member_id == member.id))
    coupon = redemption.issue_coupon(member, "C90")
    assert isinstance(coupon, Coupon)
    db.session.flush()
    paid = api.post(
        f"/api/v1/cards/{card.number}/recharge",
        json={"amount_fen": 50000, "store": "SH01"},
        headers={"Idempotency-Key": "setup-recharge"},
    )
    assert paid.status_code == 201, paid.json
    sale = api.post(
        "/api/v1/checkout",
        json={"card": PHONE, "store": "SH01", "amount_fen": 10000, "pay_with": "stored_value"},
        headers={"Idempotency-Key": "setup-checkout"},
    )
    assert sale.status_code == 201, sale.json
    return {
        "card": card.number,
        "coupon": coupon.code,
        "transaction": sale.json["transaction_id"],
    }


def state() -> dict[str, Any]:
    """What a refused request must leave as it was."""
    db.session.expire_all()
    counted = (Member, Card, CardEvent, Transaction, Line, IdempotencyRecord, Redemption)
    snapshot: dict[str, Any] = {
        model.__tablename__: db.session.scalar(select(func.count()).select_from(model))
        for model in counted
    }
    snapshot["members"] = sorted(
        db.session.execute(select(Member.phone, Member.name, Member.region)).all()
    )
    snapshot["cards"] = sorted(db.session.execute(select(Card.number, Card.state)).all())
    snapshot["coupons"] = sorted(db.session.execute(select(Coupon.code, Coupon.state)).all())
    return snapshot


def _member(**fields: Any) -> dict[str, Any]:
    return {"phone": "13900001111", "home_store": "SH01", **fields}


def _checkout(**fields: Any) -> dict[str, Any]:
    return {"card": PHONE, "store": "SH01", "amount_fen": 100, "pay_with": "cash", **fields}


def _redeem(**fields: Any) -> dict[str, Any]:
    return {"card": PHONE, "gift": "MUG", **fields}


NUL = "\x00"
#: (method, path, JSON body, the field the error names). ``{card}``, ``{coupon}`` and
#: ``{transaction}`` are the shop's. Postings get a fresh Idempotency-Key.
NUL_CASES: list[tuple[str, str, Any, str]] = [
    ("POST", "/api/v1/members", _member(name=f"王{NUL}"), "name"),
    ("POST", "/api/v1/members", _member(home_store=f"SH01{NUL}"), "home_store"),
    ("POST", "/api/v1/members", _member(region=f"East{NUL}"), "region"),
    ("POST", "/api/v1/members", _member(occupation=NUL), "occupation"),
    ("POST", "/api/v1/members", _member(income_band=f"A{NUL}"), "income_band"),
    ("POST", "/api/v1/members", _member(referrer=f"{PHONE}{NUL}"), "referrer"),
    ("POST", "/api/v1/members", _member(tags=["tea", f"c{NUL}"]), "tags.1"),
    ("POST", "/api/v1/members", {**_member(), f"na{NUL}me": "x"}, "na\\u0000me"),
    ("PATCH", f"/api/v1/members/{PHONE}", {"name": f"王{NUL}"}, "name"),
    ("PATCH", f"/api/v1/members/{PHONE}", {"home_store": NUL}, "home_store"),
    ("PATCH", f"/api/v1/members/{PHONE}", {"region": NUL}, "region"),
    ("PATCH", f"/api/v1/members/{PHONE}", {"occupation": NUL}, "occupation"),
    ("PATCH", f"/api/v1/members/{PHONE}", {"income_band": NUL}, "income_band"),
    ("PATCH", f"/api/v1/members/{PHONE}", {"referrer": f"1{NUL}"}, "referrer"),
    ("GET", "/api/v1/members?q=%00", None, "q"),
    ("GET", "/api/v1/members/a%00b", None, "ref"),
    ("GET", "/api/v1/members/a%00b/transactions", None, "ref"),
    ("GET", "/api/v1/cards/a%00b", None, "number"),
    ("POST", "/api/v1/cards/a%00b/freeze", {}, "number"),
    ("POST", "/api/v1/cards", {"type": "gift", "member": f"{PHONE}{NUL}"}, "member"),
    ("POST", "/api/v1/cards", {"type": "gift", "media": [{"kind": "barcode", "value": NUL}]},
     "media.0.value"),
    ("POST", "/api/v1/cards/{card}/media", {"kind": "barcode", "value": f"69{NUL}"}, "value"),
    ("POST", "/api/v1/cards/{card}/freeze", {"reason": f"丢失{NUL}"}, "reason"),
    ("POST", "/api/v1/cards/{card}/pin", {"pin": f"12{NUL}34"}, "pin"),
    ("POST", "/api/v1/checkout", _checkout(card=f"{PHONE}{NUL}"), "card"),
    ("POST", "/api/v1/checkout", _checkout(station=f"POS{NUL}"), "station"),
    ("POST", "/api/v1/checkout", _checkout(external_ref=f"R{NUL}"), "external_ref"),
    ("POST", "/api/v1/checkout", _checkout(items=[{"sku": NUL, "amount_fen": 100}]),
     "items.0.sku"),
    ("POST", "/api/v1/cards/a%00b/recharge", {"amount_fen": 100, "store": "SH01"}, "number"),
    ("POST", "/api/v1/cards/{card}/recharge",
     {"amount_fen": 100, "store": "SH01", "station": NUL}, "station"),
    ("POST", "/api/v1/cards/{card}/recharge",
     {"amount_fen": 100, "store": "SH01", "external_ref": NUL}, "external_ref"),
    ("POST", "/api/v1/transactions/{transaction}/refund", {"station": NUL}, "station"),
    ("POST", "/api/v1/transactions/{transaction}/refund", {"external_ref": NUL}, "external_ref"),
    ("POST", "/api/v1/redemptions", _redeem(card=f"{PHONE}{NUL}"), "card"),
    ("POST", "/api/v1/redemptions", _redeem(gift=f"MUG{NUL}"), "gift"),
    ("POST", "/api/v1/redemptions", {"card": PHONE, "coupon_type": f"C90{NUL}"}, "coupon_type"),
    ("POST", "/api/v1/redemptions", {"card": PHONE, "coupon": f"{{coupon}}{NUL}"}, "coupon"),
    ("POST", "/api/v1/redemptions", _redeem(pin=f"1{NUL}"), "pin"),
    ("POST", "/api/v1/redemptions", _redeem(station=NUL), "station"),
]  # fmt: skip


def _fill(value: Any, shop: dict[str, Any]) -> Any:
    if isinstance(value, str):
        return value.format(**shop)
    if isinstance(value, dict):
        return {_fill(k, shop): _fill(v, shop) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, shop) for v in value]
    return value


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    NUL_CASES,
    ids=[f"{m} {p} {f}" for m, p, _, f in NUL_CASES],
)
def test_a_nul_character_anywhere_is_a_400_naming_the_field(
    api: Any, shop: dict[str, Any], method: str, path: str, body: Any, field: str
) -> None:
    before = state()
    headers = {"Idempotency-Key": f"nul-{field}"}
    response = api.client.open(
        _fill(path, shop),
        method=method,
        json=_fill(body, shop),
        headers={"Authorization": f"Bearer {api.key}", **headers},
    )
    assert response.status_code == 400, response.json
    error = response.json["error"]
    assert error["code"] == "invalid_request"
    assert error["details"]["field"] == field
    assert "NUL" in error["message"]
    assert state() == before


def test_a_nul_character_in_the_idempotency_key_is_a_400(api: Any, shop: dict[str, Any]) -> None:
    before = state()
    response = api.post(
        "/api/v1/checkout", json=_checkout(), headers={"Idempotency-Key": f"k{NUL}1"}
    )
    assert response.status_code == 400, response.json
    assert response.json["error"]["details"]["field"] == "Idempotency-Key"
    assert state() == before


def test_a_nul_character_in_a_page_outside_the_api_is_a_400_too(client: FlaskClient) -> None:
    response = client.get("/sms/simulator/outbox?phone=%2B86138%00")
    assert response.status_code == 400
    assert response.json["error"]["details"]["field"] == "phone"


# --- integers beyond the column ------------------------------------------------------


def test_a_refund_of_a_transaction_id_beyond_the_column_is_404(
    api: Any, shop: dict[str, Any]
) -> None:
    before = state()
    for transaction_id in (2**31, 2**63, 10**30):
        response = api.post(
            f"/api/v1/transactions/{transaction_id}/refund",
            json={},
            headers={"Idempotency-Key": f"big-{transaction_id}"},
        )
        assert response.status_code == 404, response.json
        assert response.json["error"]["code"] == "not_found"
    assert state() == before


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/v1/cards", {"type": "stored_value", "credit_limit_fen": 2**31}, "credit_limit_fen"),
        ("/api/v1/cards", {"type": "stored_value", "credit_limit_fen": 2**63}, "credit_limit_fen"),
        ("/api/v1/checkout", _checkout(items=[{"amount_fen": 2**63}]), "items.0.amount_fen"),
    ],
)
def test_numbers_and_counts_beyond_the_limits_are_400(
    api: Any, shop: dict[str, Any], path: str, body: Any, field: str
) -> None:
    before = state()
    response = api.post(_fill(path, shop), json=body, headers={"Idempotency-Key": f"max-{field}"})
    assert response.status_code == 400, response.json
    assert response.json["error"]["code"] == "invalid_request"
    assert response.json["error"]["details"]["field"] == field
    assert state() == before


def test_a_checkout_has_at_most_max_items_lines(api: Any, shop: dict[str, Any]) -> None:
    before = state()
    items = [{"sku": "TEA", "amount_fen": 1}] * (MAX_ITEMS + 1)
    response = api.post(
        "/api/v1/checkout",
        json=_checkout(amount_fen=MAX_ITEMS + 1, items=items),
        headers={"Idempotency-Key": "many-items"},
    )
    assert response.status_code == 400, response.json
    assert response.json["error"]["details"]["field"] == "items"
    assert state() == before
    ok = api.post(
        "/api/v1/checkout",
        json=_checkout(amount_fen=MAX_ITEMS, items=items[:MAX_ITEMS]),
        headers={"Idempotency-Key": "max-items"},
    )
    assert ok.status_code == 201, ok.json


def test_a_member_whose_growth_passes_2_to_the_31_keeps_checking_out(
    api: Any, shop: dict[str, Any]
) -> None:
    """Growth is 64-bit: a member just under 2^31 goes past it and checks out again."""
    from app.ledger.rules.models import MemberGrowth

    member = db.session.scalar(select(Member).where(Member.phone == PHONE))
    assert member is not None
    growth = db.session.get(MemberGrowth, member.id)
    assert growth is not None
    growth.growth = 2**31 - 500
    db.session.flush()
    for n in range(2):
        response = api.post(
            "/api/v1/checkout",
            json=_checkout(amount_fen=100000),  # ¥1,000: 1,000 growth
            headers={"Idempotency-Key": f"growth-{n}"},
        )
        assert response.status_code == 201, response.json
    db.session.expire_all()
    assert db.session.get(MemberGrowth, member.id).growth == 2**31 + 1500


# --- JSON nested too deep, bodies too large ------------------------------------------


DEEP = "[" * 1000 + "]" * 1000


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/v1/members"),
        ("PATCH", f"/api/v1/members/{PHONE}"),
        ("POST", "/api/v1/cards"),
        ("POST", "/api/v1/cards/{card}/freeze"),
        ("POST", "/api/v1/cards/{card}/pin/verify"),
        ("POST", "/api/v1/checkout"),
        ("POST", "/api/v1/cards/{card}/recharge"),
        ("POST", "/api/v1/transactions/{transaction}/refund"),
        ("POST", "/api/v1/redemptions"),
    ],
)
def test_json_nested_1000_levels_is_a_400_on_every_json_endpoint(
    api: Any, shop: dict[str, Any], method: str, path: str
) -> None:
    before = state()
    for body in (DEEP, '{"name": ' + DEEP + "}", '{"a":' * 1000 + "1" + "}" * 1000):
        response = api.client.open(
            _fill(path, shop),
            method=method,
            data=body,
            content_type="application/json",
            headers={"Authorization": f"Bearer {api.key}", "Idempotency-Key": "deep"},
        )
        assert response.status_code == 400, response.json
        assert response.json["error"]["code"] == "invalid_request"
        assert f"deeper than {MAX_JSON_DEPTH} levels" in response.json["error"]["message"]
    assert state() == before


def test_json_nested_to_the_limit_is_read(api: Any, shop: dict[str, Any]) -> None:
    """The limit counts levels: the answers map of depth 2 is fine; 33 levels are not."""
    nested: Any = 1
    for _ in range(MAX_JSON_DEPTH - 1):
        nested = [nested]
    ok = api.patch(f"/api/v1/members/{PHONE}", json={"tags": ["tea"], "x": nested})
    assert ok.status_code == 400  # an unknown field, read and refused by the schema
    assert "deeper" not in ok.json["error"]["message"]
    deeper = api.patch(f"/api/v1/members/{PHONE}", json={"tags": ["tea"], "x": [nested]})
    assert "deeper than" in deeper.json["error"]["message"]


def test_a_body_over_max_content_length_is_413_payload_too_large(
    app: Any, api: Any, shop: dict[str, Any]
) -> None:
    before = state()
    limit = app.config["MAX_CONTENT_LENGTH"]
    items = [{"sku": "TEA", "amount_fen": 1}] * (limit // 20)
    response = api.post(
        "/api/v1/checkout", json=_checkout(items=items), headers={"Idempotency-Key": "big"}
    )
    assert response.status_code == 413
    assert response.json["error"]["code"] == "payload_too_large"
    assert state() == before


# --- period cards, Idempotency-Key length ---------------------------------------------


def test_a_period_card_ending_after_9999_is_a_400(api: Any, shop: dict[str, Any]) -> None:
    before = state()
    response = api.post(
        "/api/v1/cards",
        json={"type": "period", "period": "year", "valid_from": "9999-06-01", "member": PHONE},
    )
    assert response.status_code == 400, response.json
    assert response.json["error"]["details"]["field"] == "valid_from"
    assert "9999" in response.json["error"]["message"]
    assert state() == before
    last = api.post(
        "/api/v1/cards",
        json={"type": "period", "period": "month", "valid_from": "9999-11-01", "member": PHONE},
    )
    assert last.status_code == 201, last.json
    assert last.json["card"]["valid_until"] == dt.date(9999, 11, 30).isoformat()


@pytest.mark.parametrize("char", ["k", "键"])
def test_the_idempotency_key_is_200_characters_cjk_included(
    api: Any, shop: dict[str, Any], char: str
) -> None:
    def recharge(key: str) -> Any:
        # Sent as the client sends it: UTF-8 bytes (WSGI hands them over as latin-1).
        raw = key.encode("utf-8").decode("latin-1")
        return api.post(
            f"/api/v1/cards/{shop['card']}/recharge",
            json={"amount_fen": 100, "store": "SH01"},
            headers={"Idempotency-Key": raw},
        )

    before = state()
    refused = recharge(char * 201)
    assert refused.status_code == 400, refused.json
    assert refused.json["error"]["details"]["field"] == "Idempotency-Key"
    assert "200 characters" in refused.json["error"]["message"]
    assert state() == before
    first = recharge(char * 200)
    assert first.status_code == 201, first.json
    again = recharge(char * 200)
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json == first.json


def test_a_member_request_has_at_most_max_answers_answers(api: Any, shop: dict[str, Any]) -> None:
    from app.members.models import Question

    db.session.add_all(
        Question(key=f"q{n}", label=f"Q{n}", type="integer") for n in range(MAX_ANSWERS + 1)
    )
    db.session.flush()
    before = state()
    answers = {f"q{n}": n for n in range(MAX_ANSWERS + 1)}
    response = api.patch(f"/api/v1/members/{PHONE}", json={"answers": answers})
    assert response.status_code == 400, response.json
    assert response.json["error"]["details"]["field"] == "answers"
    assert state() == before
    answers.pop("q0")
    assert api.patch(f"/api/v1/members/{PHONE}", json={"answers": answers}).status_code == 200


def test_the_document_states_the_limits(client: FlaskClient) -> None:
    document = client.get("/api/v1/openapi.json").json
    paths, schemas = document["paths"], document["components"]["schemas"]
    refund = paths["/api/v1/transactions/{transaction_id}/refund"]
    (transaction_id,) = refund.get("parameters") or refund["post"]["parameters"][:1]
    assert transaction_id["schema"]["maximum"] == 2**31 - 1
    assert schemas["CardCreate"]["properties"]["credit_limit_fen"]["maximum"] < 2**31
    assert schemas["Checkout"]["properties"]["items"]["maxItems"] == MAX_ITEMS
    assert schemas["Checkout"]["properties"]["points_offset"]["maximum"] <= 2**63 - 1
    assert schemas["Item"]["properties"]["amount_fen"]["maximum"] <= 2**63 - 1
    assert schemas["MemberCreate"]["properties"]["answers"]["maxProperties"] == MAX_ANSWERS
    (key,) = [
        p for p in paths["/api/v1/checkout"]["post"]["parameters"] if p["name"] == "Idempotency-Key"
    ]
    assert key["schema"]["maxLength"] == 200
    for path, item in paths.items():
        for method, operation in item.items():
            if method in ("get", "post", "patch"):
                assert "400" in operation["responses"], (method, path)
                if "415" in operation["responses"]:
                    assert "413" in operation["responses"], (method, path)
