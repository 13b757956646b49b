"""What the counter needs of promotions from /api/v1: listed on the member lookup, and in
the checkout quote exactly what the checkout then gives (nothing posted by the quote).

With no rules imported a member earns 1 point per yuan charged, so points are hand-computed.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import func, select

from app.campaigns import promotions
from app.campaigns.promotion_models import PromotionUse
from app.campaigns.promotions import PromotionTerms
from app.clock import frozen
from app.db import db
from app.ledger.redemption.models import Coupon, CouponType

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
START = dt.datetime(2026, 12, 7, 0, 0, tzinfo=SHANGHAI)
END = dt.datetime(2026, 12, 14, 0, 0, tzinfo=SHANGHAI)
DURING = dt.datetime(2026, 12, 9, 12, 0, tzinfo=SHANGHAI)
PHONE = "+8613800138000"
NAMES = {"zh-Hans": "双倍积分周", "zh-Hant": "雙倍積分週", "en": "Double points week"}


def count(model: Any) -> int:
    return db.session.scalar(select(func.count()).select_from(model)) or 0


@pytest.fixture
def gold(make_level: Any, make_store: Any) -> Any:
    make_store("SH01")
    make_level("Silver", rank=1)
    return make_level("Gold", rank=2)


@pytest.fixture
def member(make_member: Any, gold: Any) -> Any:
    member = make_member(PHONE, language="en")
    member.level = gold
    db.session.flush()
    return member


@pytest.fixture
def tea_coupon(app: Any) -> CouponType:
    kind = CouponType(code="TEA10", name="奶茶九折券", kind="coupon", discount_bp=9000)
    db.session.add(kind)
    db.session.flush()
    return kind


def promotion(**changes: Any) -> Any:
    values: dict[str, Any] = {
        "names": NAMES,
        "starts_at": START,
        "ends_at": END,
        "multiplier_bp": 20000,
    }
    values.update(changes)
    return promotions.create_promotion(PromotionTerms(**values))


def test_the_member_lookup_lists_todays_promotions_in_the_requested_language(
    api: Any, member: Any, gold: Any, tea_coupon: CouponType
) -> None:
    double = promotion(bonus_points=8, coupon_type="TEA10")
    promotion(names={"en": "Silver only"}, level_id=gold.id - 1)  # another level: not listed
    promotion(names={"en": "Next month"}, starts_at=END, ends_at=END + dt.timedelta(days=7))
    with frozen(DURING):
        english = api.get(f"/api/v1/members/{PHONE}", headers={"Accept-Language": "en"})
        chinese = api.get(f"/api/v1/members/{PHONE}", headers={"Accept-Language": "zh-Hans"})
    with frozen(END):
        after = api.get(f"/api/v1/members/{PHONE}")
    assert english.status_code == 200, english.json
    assert english.json["phone"] == PHONE  # the fields it had stay
    assert english.json["promotions"] == [
        {
            "id": double.id,
            "name": "Double points week",
            "effects": ["2× points", "8 bonus points", "a coupon: 奶茶九折券"],
            "ends_at": "2026-12-13T16:00:00+00:00",
        }
    ]
    assert [p["name"] for p in chinese.json["promotions"]] == ["双倍积分周"]
    assert after.json["promotions"][0]["name"] == "Next month"


def test_the_openapi_document_describes_the_promotions(client: Any) -> None:
    document = client.get("/api/v1/openapi.json").json
    schemas = document["components"]["schemas"]
    answer = document["paths"]["/api/v1/members/{ref}"]["get"]["responses"]["200"]
    assert answer["content"]["application/json"]["schema"]["$ref"].endswith("/MemberLookup")
    assert {"id", "name", "effects", "ends_at"} <= set(schemas["MemberPromotion"]["properties"])
    assert "promotions" in schemas["SaleQuoteResult"]["properties"]
    assert "promotions" in schemas["SaleQuoteResult"]["required"]


def test_the_quote_gives_what_the_checkout_then_posts(
    api: Any, member: Any, tea_coupon: CouponType
) -> None:
    double = promotion(bonus_points=8, coupon_type="TEA10")
    body = {"card": PHONE, "amount_fen": 2500}
    with frozen(DURING):
        quote = api.post("/api/v1/checkout/quote", json=body, headers={"Accept-Language": "en"})
        assert quote.status_code == 200, quote.json
        # The quote posted nothing: no coupon given, no use counted.
        assert (count(Coupon), count(PromotionUse)) == (0, 0)
        sold = api.post(
            "/api/v1/checkout",
            json={**body, "store": "SH01", "pay_with": "cash"},
            headers={"Idempotency-Key": "promo-quote-1"},
        )
    assert sold.status_code == 201, sold.json
    # 25 points, +25 for 2×, +8 bonus.
    assert quote.json["points_earned"] == sold.json["points_earned"] == 58
    assert quote.json["promotions"] == [
        {"id": double.id, "name": "Double points week", "names": NAMES, "points": 33,
         "coupon_type": "TEA10"}
    ]  # fmt: skip
    assert [
        {k: p[k] for k in ("id", "names", "points", "coupon_type")} for p in sold.json["promotions"]
    ] == [{k: v for k, v in quote.json["promotions"][0].items() if k != "name"}]
    assert (count(Coupon), count(PromotionUse)) == (1, 1)


def test_a_quote_that_charges_nothing_or_misses_a_condition_gets_no_promotion(
    api: Any, member: Any
) -> None:
    promotion(min_spend_fen=5000)
    with frozen(DURING):
        small = api.post("/api/v1/checkout/quote", json={"card": PHONE, "amount_fen": 4999})
        big = api.post("/api/v1/checkout/quote", json={"card": PHONE, "amount_fen": 5000})
    assert small.json["promotions"] == [] and small.json["points_earned"] == 49
    assert [p["points"] for p in big.json["promotions"]] == [50]
    assert big.json["points_earned"] == 100
