"""POST /api/v1/redemptions: gifts with stock, coupons and vouchers redeemed once."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from app import clock
from app.cards.services import member_cards
from app.db import db
from app.ledger.balances import card_balances
from app.ledger.journal import credit_points
from app.ledger.redemption.models import Coupon, Gift, Redemption
from app.ledger.redemption.services import issue_coupon, member_coupons
from app.ledger.rules.io import import_rules

EXAMPLE = Path(__file__).parents[3] / "docs" / "rules.example.json"
URL = "/api/v1/redemptions"


@pytest.fixture
def rules(app: Any, make_store: Any) -> None:
    for code in ("SH01", "SH02", "BJ01"):
        make_store(code)
    import_rules(json.loads(EXAMPLE.read_text(encoding="utf-8")))


@pytest.fixture
def holder(rules: Any, make_member: Any) -> Any:
    """A member whose card holds 2000 points: the 100-point sign-up gift and 1900 more."""
    member = make_member(card_type="points")
    card = member_cards(member)[0]
    credit_points(card, 1900, kind="adjustment", key=f"seed:{card.id}", expires_on=None)
    assert card_balances(card.id).points == 2000
    return card


def post(api: Any, body: dict[str, Any], key: str = "k1") -> Any:
    return api.post(URL, json=body, headers={"Idempotency-Key": key})


def stock(code: str) -> int | None:
    return db.session.scalar(select(Gift.stock).where(Gift.code == code))


def redemptions() -> int:
    return db.session.scalar(select(func.count()).select_from(Redemption))


def test_gift_for_points(api: Any, holder: Any) -> None:
    response = post(api, {"card": holder.number, "gift": "TOTE", "quantity": 2})
    assert response.status_code == 201, response.json
    body = response.json
    assert body["kind"] == "gift"
    assert body["points_spent"] == 600
    assert body["balances"]["points"] == 1400
    assert body["gift"] == {"code": "TOTE", "name": "帆布袋", "stock": 48}
    assert body["coupon"] is None
    assert stock("TOTE") == 48
    assert card_balances(holder.id).points == 1400


def test_phone_works_as_the_card(api: Any, holder: Any) -> None:
    response = post(api, {"card": holder.member.phone, "gift": "MUG"})
    assert response.status_code == 201
    assert response.json["balances"]["points"] == 1200


def test_not_enough_points_writes_nothing(api: Any, holder: Any) -> None:
    response = post(api, {"card": holder.number, "gift": "MUG", "quantity": 3})  # 2400
    assert response.status_code == 409
    assert response.json["error"]["code"] == "insufficient_funds"
    assert stock("MUG") == 20
    assert redemptions() == 0
    assert card_balances(holder.id).points == 2000


def test_out_of_stock(api: Any, holder: Any) -> None:
    db.session.execute(Gift.__table__.update().where(Gift.code == "MUG").values(stock=1))
    response = post(api, {"card": holder.number, "gift": "MUG", "quantity": 2})
    assert response.status_code == 409
    assert response.json["error"]["code"] == "out_of_stock"
    assert stock("MUG") == 1
    assert card_balances(holder.id).points == 2000
    assert post(api, {"card": holder.number, "gift": "MUG"}, key="k2").status_code == 201
    assert stock("MUG") == 0
    again = post(api, {"card": holder.number, "gift": "MUG"}, key="k3")
    assert again.json["error"]["code"] == "out_of_stock"
    assert stock("MUG") == 0


def test_a_gift_without_stock_limit(api: Any, holder: Any) -> None:
    db.session.execute(Gift.__table__.update().where(Gift.code == "TOTE").values(stock=None))
    response = post(api, {"card": holder.number, "gift": "TOTE", "quantity": 6})
    assert response.status_code == 201
    assert response.json["gift"]["stock"] is None
    assert stock("TOTE") is None


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"card": "8800000000000000", "gift": "MUG"}, 404, "not_found"),
        ({"gift": "NOPE"}, 404, "not_found"),
        ({"gift": "MUG", "coupon_type": "V20"}, 400, "invalid_request"),
        ({}, 400, "invalid_request"),
        ({"gift": "MUG", "quantity": 0}, 400, "invalid_request"),
    ],
)
def test_bad_requests(api: Any, holder: Any, body: dict[str, Any], status: int, code: str) -> None:
    response = post(api, {"card": holder.number, **body})
    assert response.status_code == status, response.json
    assert response.json["error"]["code"] == code
    assert redemptions() == 0
    assert card_balances(holder.id).points == 2000


def test_idempotency_key_is_required(api: Any, holder: Any) -> None:
    response = api.post(URL, json={"card": holder.number, "gift": "MUG"})
    assert response.status_code == 400
    assert stock("MUG") == 20


def test_replay_returns_the_first_answer_and_takes_no_more(api: Any, holder: Any) -> None:
    first = post(api, {"card": holder.number, "gift": "MUG"})
    second = post(api, {"card": holder.number, "gift": "MUG"})
    assert second.status_code == 201
    assert second.json == first.json
    assert stock("MUG") == 19
    assert card_balances(holder.id).points == 1200
    other = post(api, {"card": holder.number, "gift": "TOTE"})
    assert other.status_code == 409
    assert other.json["error"]["code"] == "idempotency_conflict"


def test_pin_is_needed_to_spend_points(api: Any, holder: Any) -> None:
    from app.cards.services import set_pin

    set_pin(holder, "2468")
    refused = post(api, {"card": holder.number, "gift": "MUG"})
    assert refused.status_code == 403
    assert post(api, {"card": holder.number, "gift": "MUG", "pin": "2468"}, "k2").status_code == 201


def test_frozen_card_cannot_redeem(api: Any, holder: Any) -> None:
    from app.cards.services import change_state

    change_state(holder, "freeze")
    response = post(api, {"card": holder.number, "gift": "MUG"})
    assert response.json["error"]["code"] == "card_not_active"
    assert stock("MUG") == 20


# --- coupons and vouchers ------------------------------------------------------------------


def test_voucher_for_points_then_used_once(api: Any, holder: Any) -> None:
    with clock.frozen(dt.datetime(2026, 11, 26, 4, tzinfo=dt.UTC)):
        taken = post(api, {"card": holder.number, "coupon_type": "V20"})
        assert taken.status_code == 201, taken.json
        coupon = taken.json["coupon"]
        assert (taken.json["kind"], taken.json["points_spent"]) == ("coupon_exchange", 1500)
        assert coupon["kind"] == "voucher"
        assert (coupon["value_fen"], coupon["min_spend_fen"]) == (2000, 10000)
        assert coupon["expires_on"] == "2026-12-25"  # 30 days counting the day of issue
        assert taken.json["balances"]["points"] == 500

        used = post(api, {"card": holder.number, "coupon": coupon["code"]}, key="k2")
        assert used.status_code == 201, used.json
        assert used.json["kind"] == "coupon_use"
        assert used.json["coupon"]["state"] == "redeemed"
        assert used.json["points_spent"] == 0

        again = post(api, {"card": holder.number, "coupon": coupon["code"]}, key="k3")
        assert again.status_code == 409
        assert again.json["error"]["code"] == "coupon_used"


def test_coupon_expires_after_its_last_day(api: Any, holder: Any) -> None:
    with clock.frozen(dt.datetime(2026, 11, 1, 4, tzinfo=dt.UTC)):
        coupon = issue_coupon(holder.member, "C90")  # 14 days: through 2026-11-14
    assert isinstance(coupon, Coupon)
    assert coupon.expires_on == dt.date(2026, 11, 14)
    # 2026-11-14 23:00 in Shanghai is still its last day.
    with clock.frozen(dt.datetime(2026, 11, 14, 15, tzinfo=dt.UTC)):
        late = post(api, {"card": holder.number, "coupon": coupon.code}, key="k9")
        assert late.status_code == 201
    # Every date here is frozen: the test must not depend on the day it runs.
    with clock.frozen(dt.datetime(2026, 11, 15, 4, tzinfo=dt.UTC)):
        coupon2 = issue_coupon(holder.member, "C90")  # through 2026-11-28
    assert isinstance(coupon2, Coupon)
    # 2026-11-28 16:00 UTC is 2026-11-29 00:00 in Shanghai: the day after its last day.
    with clock.frozen(dt.datetime(2026, 11, 28, 16, tzinfo=dt.UTC)):
        expired = post(api, {"card": holder.number, "coupon": coupon2.code})
        assert member_coupons(holder.member, usable_only=True) == []
    assert expired.status_code == 409
    assert expired.json["error"]["code"] == "coupon_expired"
    assert db.session.get(Coupon, coupon2.id).state == "issued"
    with clock.frozen(dt.datetime(2026, 11, 20, 4, tzinfo=dt.UTC)):
        assert [c.code for c in member_coupons(holder.member)] == [coupon.code, coupon2.code]
        usable = member_coupons(holder.member, usable_only=True)
        assert [c.code for c in usable] == [coupon2.code]


def test_someone_elses_coupon_is_not_found(api: Any, holder: Any, make_member: Any) -> None:
    other = make_member()
    coupon = issue_coupon(other, "C90")
    response = post(api, {"card": holder.number, "coupon": coupon.code})
    assert response.status_code == 404
    assert db.session.get(Coupon, coupon.id).state == "issued"


def test_a_free_coupon_type_cannot_be_bought(api: Any, holder: Any) -> None:
    response = post(api, {"card": holder.number, "coupon_type": "C90"})
    assert response.status_code == 400
    assert db.session.scalar(select(func.count()).select_from(Coupon)) == 0


def test_redemption_appears_in_the_statement(api: Any, holder: Any) -> None:
    post(api, {"card": holder.number, "gift": "TOTE"})
    statement = api.get(f"/api/v1/members/{holder.member.phone}/transactions").json
    latest = statement["transactions"][0]
    assert (latest["kind"], latest["reason"], latest["changes"]["points"]) == (
        "redemption",
        "gift:TOTE",
        -300,
    )


# --- the OpenAPI document ------------------------------------------------------------------


def test_every_redemption_answer_matches_the_document(
    api: Any, client: Any, holder: Any, app: Flask
) -> None:
    from openapi_core import OpenAPI
    from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse

    from app.cards.services import set_pin

    class Sent(WerkzeugOpenAPIRequest):
        @property
        def body(self) -> bytes:
            return b""

    spec = client.get("/api/v1/openapi.json").json
    openapi = OpenAPI.from_dict(spec)
    seen: set[str] = set()

    def check(response: Any) -> Any:
        openapi.validate_response(Sent(response.request), WerkzeugOpenAPIResponse(response))
        seen.add(str(response.status_code))
        return response

    card = holder.number
    check(post(api, {"card": card, "gift": "TOTE"}, "o1"))  # 201 gift
    taken = check(post(api, {"card": card, "coupon_type": "V20"}, "o2"))  # 201 coupon for points
    check(post(api, {"card": card, "coupon": taken.json["coupon"]["code"]}, "o3"))  # 201 use
    check(post(api, {"card": card, "gift": "TOTE", "coupon": "X"}, "o4"))  # 400
    check(client.post(URL, json={"card": card, "gift": "TOTE"}))  # 401
    check(post(api, {"card": "nope", "gift": "TOTE"}, "o5"))  # 404
    check(post(api, {"card": card, "gift": "MUG"}, "o6"))  # 409 insufficient_funds
    check(api.post(URL, headers={"Idempotency-Key": "o7"}, data="hi", content_type="text/plain"))
    too_large = b"[" + b" " * app.config["MAX_CONTENT_LENGTH"] + b"]"
    big = check(
        api.post(
            URL, headers={"Idempotency-Key": "o7"}, data=too_large, content_type="application/json"
        )
    )
    assert big.status_code == 413
    set_pin(holder, "2468")
    check(post(api, {"card": card, "gift": "TOTE", "pin": "0000"}, "o8"))  # 403 wrong_pin
    for n in range(4):
        check(post(api, {"card": card, "gift": "TOTE", "pin": "0000"}, f"o9{n}"))
    assert check(post(api, {"card": card, "gift": "TOTE"}, "o10")).status_code == 423
    operation = spec["paths"]["/api/v1/redemptions"]["post"]
    assert seen == set(operation["responses"]), seen
