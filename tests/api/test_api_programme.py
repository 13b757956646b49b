"""The listings a POS needs: stores, levels, the gift catalogue, a member's coupons."""

from __future__ import annotations

from typing import Any

from app.db import db
from app.ledger.redemption.models import Coupon, CouponType, Gift
from app.ledger.redemption.services import issue_coupon
from tests.api.test_api_openapi import Checker

LISTINGS = {
    ("get", "/api/v1/stores"),
    ("get", "/api/v1/levels"),
    ("get", "/api/v1/gifts"),
    ("get", "/api/v1/members/{ref}/coupons"),
}


def test_listings_answer_what_the_document_says(
    app: Any, api: Any, client: Any, make_store: Any, make_level: Any, make_member: Any
) -> None:
    make_store("BJ01", "北京国贸店", region="North")
    gold = make_level("金卡", rank=3, discount_bp=9000, points_multiplier_bp=15000)
    gold.name_en = "Gold"
    make_level("普通会员", rank=1)
    db.session.add_all(
        [
            Gift(code="MUG", name="保温杯", points_cost=800, stock=20),
            Gift(code="TOTE", name="帆布袋", points_cost=300, stock=None),
            Gift(code="OLD", name="旧礼品", points_cost=100, stock=5, active=False),
            CouponType(code="C90", name="9折券", kind="coupon", discount_bp=9000),
        ]
    )
    member = make_member("+8613800138000")
    db.session.flush()
    coupon = issue_coupon(member, "C90")
    used = issue_coupon(member, "C90")
    assert isinstance(coupon, Coupon) and isinstance(used, Coupon)
    used.state, used.redeemed_at = "redeemed", used.issued_at
    db.session.flush()

    spec = client.get("/api/v1/openapi.json").json
    check = Checker(app, spec)
    english = {"Accept-Language": "en"}
    api_key = {"Authorization": f"Bearer {api.key}"}

    stores = check(api.get("/api/v1/stores")).json["stores"]
    assert {"code": "BJ01", "name": "北京国贸店", "region": "North"} in stores
    assert [s["code"] for s in stores] == sorted(s["code"] for s in stores)

    levels = check(api.get("/api/v1/levels", headers=english)).json["levels"]
    assert [(lv["rank"], lv["name"], lv["level_name"]) for lv in levels] == [
        (1, "普通会员", "普通会员"),
        (3, "金卡", "Gold"),
    ]
    assert levels[1]["names"] == {"zh-Hans": "金卡", "zh-Hant": "金卡", "en": "Gold"}
    assert (levels[1]["discount_bp"], levels[1]["points_multiplier_bp"]) == (9000, 15000)

    gifts = check(api.get("/api/v1/gifts")).json["gifts"]
    assert gifts == [
        {"code": "MUG", "name": "保温杯", "points_cost": 800, "stock": 20},
        {"code": "TOTE", "name": "帆布袋", "points_cost": 300, "stock": None},
    ]

    usable = check(api.get("/api/v1/members/13800138000/coupons")).json["coupons"]
    assert [(c["code"], c["state"], c["type"]) for c in usable] == [(coupon.code, "issued", "C90")]
    every = check(api.get("/api/v1/members/13800138000/coupons?usable=false")).json["coupons"]
    assert [c["state"] for c in every] == ["issued", "redeemed"]
    assert check(api.get("/api/v1/members/13912345678/coupons")).status_code == 404
    bad = check(api.get("/api/v1/members/13800138000/coupons?usable=maybe"))
    assert bad.status_code == 400
    assert bad.json["error"]["code"] == "invalid_request"

    for method, template in LISTINGS:
        path = template.replace("{ref}", "13800138000")
        assert check(client.open(path, method=method)).status_code == 401
        # A NUL character in the query string (or anywhere) is refused at the boundary.
        nul = check(api.client.open(f"{path}?x=%00", method=method, headers=api_key))
        assert nul.status_code == 400, nul.json
    documented = {
        (method, path, status)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if (method, path) in LISTINGS
        for status in operation["responses"]
    }
    assert documented == check.seen
