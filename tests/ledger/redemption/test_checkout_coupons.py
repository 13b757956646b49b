"""A checkout that carries coupons: applied and used in the sale's own transaction."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from ledger_support import counts
from sqlalchemy import func, select

from app import clock
from app.cards.services import member_cards
from app.db import db
from app.ledger.balances import card_balances
from app.ledger.redemption.models import Coupon, Redemption
from app.ledger.redemption.services import issue_coupon
from app.ledger.rules.io import import_rules

#: A voucher of 20 yuan on bills of 100 yuan or more, and a 10%-off coupon; no level discount.
RULES = {
    "earning": {"points_per_yuan_bp": 10000},
    "redemption": {
        "coupon_types": [
            {
                "code": "V20",
                "name": "20元代金券",
                "kind": "voucher",
                "value_fen": 2000,
                "min_spend_fen": 10000,
                "valid_days": 30,
            },
            {"code": "C90", "name": "9折券", "kind": "coupon", "discount_bp": 9000},
        ]
    },
}


@pytest.fixture
def shopper(app: Any, make_store: Any, make_member: Any) -> Any:
    """A member (card type cash-friendly ``points``) holding a V20 and a C90: (card, codes)."""
    make_store("SH01")
    import_rules(RULES)
    member = make_member("+8613800138000", card_type="points")
    v20 = issue_coupon(member, "V20")
    c90 = issue_coupon(member, "C90")
    assert isinstance(v20, Coupon) and isinstance(c90, Coupon)
    return member_cards(member)[0], v20.code, c90.code


def checkout(api: Any, card: Any, key: str, **body: Any) -> Any:
    payload = {"card": card.number, "store": "SH01", "amount_fen": 20000, "pay_with": "cash"}
    return api.post("/api/v1/checkout", json={**payload, **body}, headers={"Idempotency-Key": key})


def state(code: str) -> str:
    db.session.expire_all()
    return db.session.scalar(select(Coupon.state).where(Coupon.code == code))


def uses() -> int:
    return db.session.scalar(select(func.count()).select_from(Redemption)) or 0


def test_checkout_applies_its_coupons_and_uses_them_once(api: Any, shopper: Any) -> None:
    card, v20, c90 = shopper
    response = checkout(api, card, "c-1", coupons=[v20, c90.lower()])
    assert response.status_code == 201, response.json
    body = response.json
    # 10% off 200 yuan first (20 yuan), then the 20-yuan voucher: 160 yuan charged.
    assert body["coupons"] == [
        {"code": v20, "type": "V20", "kind": "voucher", "name": "20元代金券", "discount_fen": 2000},
        {"code": c90, "type": "C90", "kind": "coupon", "name": "9折券", "discount_fen": 2000},
    ]
    assert (body["discount_fen"], body["charged_fen"], body["points_earned"]) == (0, 16000, 160)
    assert (state(v20), state(c90)) == ("redeemed", "redeemed")
    used_in = set(db.session.scalars(select(Redemption.transaction_id)))
    assert used_in == {body["transaction_id"]}

    replay = checkout(api, card, "c-1", coupons=[v20, c90.lower()])
    assert replay.status_code == 201
    assert replay.headers.get("Idempotent-Replayed") == "true"
    assert replay.json == body
    assert uses() == 2
    conflict = checkout(api, card, "c-1", coupons=[v20])
    assert conflict.status_code == 409
    assert conflict.json["error"]["code"] == "idempotency_conflict"


def test_the_journal_replays_a_checkout_with_its_coupons(app: Any, shopper: Any) -> None:
    """Under the same key the operation itself answers the first sale's coupons again."""
    from app.ledger.operations import checkout as post_checkout
    from app.stores.services import get_store

    card, v20, _ = shopper
    store = get_store("SH01")
    first = post_checkout(card, store, 15000, "cash", key="j-1", actor=None, coupons=[v20])
    again = post_checkout(card, store, 15000, "cash", key="j-1", actor=None, coupons=[v20])
    assert again.replayed and again.coupons == first.coupons
    assert first.coupons[0]["discount_fen"] == 2000 and first.charged_fen == 13000
    assert uses() == 1


@pytest.mark.parametrize(
    ("make_bad", "status", "code"),
    [
        ("used", 409, "coupon_used"),
        ("expired", 409, "coupon_expired"),
        ("min_spend", 409, "coupon_min_spend"),
        ("someone_elses", 404, "not_found"),
        ("unknown", 404, "not_found"),
        ("twice", 400, "invalid_request"),
        ("visits", 400, "invalid_request"),
    ],
)
def test_a_refused_coupon_refuses_the_sale_and_changes_nothing(
    api: Any, shopper: Any, make_member: Any, make_bad: str, status: int, code: str
) -> None:
    card, v20, c90 = shopper
    body: dict[str, Any] = {"coupons": [c90, v20]}
    if make_bad == "used":
        assert checkout(api, card, "first", amount_fen=10000, coupons=[v20]).status_code == 201
    elif make_bad == "min_spend":
        body["amount_fen"] = 9999
    elif make_bad == "someone_elses":
        other = issue_coupon(make_member("+8613900139000"), "C90")
        assert isinstance(other, Coupon)
        body["coupons"] = [v20, other.code]
    elif make_bad == "unknown":
        body["coupons"] = [v20, "NOSUCHCODE"]
    elif make_bad == "twice":
        body["coupons"] = [v20, v20.lower()]
    elif make_bad == "visits":
        body["pay_with"] = "visits"
    before = (counts(), card_balances(card.id), uses(), state(c90))
    now = clock.now() + (dt.timedelta(days=40) if make_bad == "expired" else dt.timedelta())
    with clock.frozen(now):
        response = checkout(api, card, "second", **body)
    assert response.status_code == status, response.json
    assert response.json["error"]["code"] == code
    if status != 400:
        assert response.json["error"]["details"].get("field", "coupons") == "coupons"
    assert (counts(), card_balances(card.id), uses(), state(c90)) == before
    assert state(c90) == "issued"


def test_a_whole_refund_gives_the_coupons_back_a_partial_one_does_not(
    api: Any, shopper: Any
) -> None:
    card, v20, c90 = shopper
    sale = checkout(api, card, "sale", coupons=[v20, c90]).json
    url = f"/api/v1/transactions/{sale['transaction_id']}/refund"
    part = api.post(url, json={"amount_fen": 6000}, headers={"Idempotency-Key": "r-1"})
    assert part.status_code == 201, part.json
    assert part.json["coupons_returned"] == []
    assert (state(v20), state(c90)) == ("redeemed", "redeemed")
    rest = api.post(url, json={}, headers={"Idempotency-Key": "r-2"})
    assert rest.status_code == 201, rest.json
    assert rest.json["coupons_returned"] == [v20, c90]  # in the order of the sale
    assert (state(v20), state(c90)) == ("issued", "issued")
    again = api.post(url, json={}, headers={"Idempotency-Key": "r-2"})
    assert again.json == rest.json
    # Given back, a coupon works again in the next sale.
    assert checkout(api, card, "sale-2", coupons=[v20]).status_code == 201
    assert state(v20) == "redeemed"
