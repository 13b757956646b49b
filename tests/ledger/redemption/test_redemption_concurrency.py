"""Sixteen counters at once for the last five gifts: exactly five get one, stock ends at 0."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from app.auth.services import create_api_key
from app.cards.services import enroll, member_cards
from app.db import db, unit_of_work
from app.ledger.balances import card_balances
from app.ledger.journal import credit_points
from app.ledger.redemption.models import Gift, Redemption
from app.ledger.rules.io import import_rules
from app.stores.services import create_store

pytestmark = pytest.mark.concurrent
EXAMPLE = Path(__file__).parents[3] / "docs" / "rules.example.json"
COUNTERS = 16


def test_sixteen_counters_redeem_the_last_five_gifts(live_app: Any) -> None:
    with unit_of_work():
        for code in ("SH01", "SH02", "BJ01"):
            create_store(code, code, "East")
        doc = json.loads(EXAMPLE.read_text(encoding="utf-8"))
        doc["redemption"]["gifts"][0]["stock"] = 5  # MUG, 800 points
        import_rules(doc)
        numbers = []
        for n in range(COUNTERS):
            member = enroll({"phone": f"+861390000{n:04d}", "home_store": "SH01"})
            card = member_cards(member)[0]
            credit_points(card, 900, kind="adjustment", key=f"seed:{n}", expires_on=None)
            numbers.append(card.number)
        _key, secret = create_api_key(db.session.scalar(select_store("SH01")))

    barrier = threading.Barrier(COUNTERS)

    def counter(n: int) -> tuple[int, str | None]:
        client = live_app.test_client()
        barrier.wait()
        response = client.post(
            "/api/v1/redemptions",
            json={"card": numbers[n], "gift": "MUG"},
            headers={"Authorization": f"Bearer {secret}", "Idempotency-Key": f"c{n}"},
        )
        error = response.json.get("error", {}).get("code") if response.status_code >= 400 else None
        return response.status_code, error

    with ThreadPoolExecutor(COUNTERS) as pool:
        outcomes = list(pool.map(counter, range(COUNTERS)))

    assert sorted(outcomes, key=str) == [(201, None)] * 5 + [(409, "out_of_stock")] * 11
    db.session.remove()
    assert db.session.scalar(select(Gift.stock).where(Gift.code == "MUG")) == 0
    assert db.session.scalar(select(func.count()).select_from(Redemption)) == 5
    from app.cards.services import find_card

    points = sorted(card_balances(find_card(n).id).points for n in numbers)
    assert points == [200] * 5 + [1000] * 11


def select_store(code: str) -> Any:
    from app.stores.models import Store

    return select(Store).where(Store.code == code)


def _chain_with_a_coupon(phone: str) -> tuple[str, str, str]:
    """Three stores with the example rules, a member holding one C90 coupon, SH01's key:
    the member's card number, the coupon's code and the key, committed."""
    from app.ledger.redemption.services import issue_coupon

    with unit_of_work():
        for code in ("SH01", "SH02", "BJ01"):
            create_store(code, code, "East")
        import_rules(json.loads(EXAMPLE.read_text(encoding="utf-8")))
        member = enroll({"phone": phone, "home_store": "SH01"})
        number = member_cards(member)[0].number
        code = issue_coupon(member, "C90").code  # type: ignore[union-attr]
        _key, secret = create_api_key(db.session.scalar(select_store("SH01")))
    return number, code, secret


def test_one_coupon_at_eight_counters_is_used_once(live_app: Any) -> None:
    from app.ledger.redemption.models import Coupon

    number, code, secret = _chain_with_a_coupon("+8613900001111")

    counters = 8
    barrier = threading.Barrier(counters)

    def counter(n: int) -> tuple[int, str | None]:
        client = live_app.test_client()
        barrier.wait()
        response = client.post(
            "/api/v1/redemptions",
            json={"card": number, "coupon": code},
            headers={"Authorization": f"Bearer {secret}", "Idempotency-Key": f"u{n}"},
        )
        error = response.json.get("error", {}).get("code") if response.status_code >= 400 else None
        return response.status_code, error

    with ThreadPoolExecutor(counters) as pool:
        outcomes = list(pool.map(counter, range(counters)))

    assert sorted(outcomes, key=str) == [(201, None)] + [(409, "coupon_used")] * 7
    db.session.remove()
    assert db.session.scalar(select(Coupon.state).where(Coupon.code == code)) == "redeemed"
    assert db.session.scalar(select(func.count()).select_from(Redemption)) == 1


def test_one_coupon_in_eight_checkouts_at_once_goes_with_one_sale(live_app: Any) -> None:
    """A coupon carried by a checkout is used with its sale only: one sale, seven refusals."""
    from app.ledger.models import Transaction
    from app.ledger.redemption.models import Coupon

    number, code, secret = _chain_with_a_coupon("+8613900002222")

    counters = 8
    barrier = threading.Barrier(counters)

    def counter(n: int) -> tuple[int, str | None]:
        client = live_app.test_client()
        barrier.wait()
        response = client.post(
            "/api/v1/checkout",
            json={
                "card": number,
                "store": "SH01",
                "amount_fen": 10000,
                "pay_with": "cash",
                "coupons": [code],
            },
            headers={"Authorization": f"Bearer {secret}", "Idempotency-Key": f"s{n}"},
        )
        error = response.json.get("error", {}).get("code") if response.status_code >= 400 else None
        return response.status_code, error

    with ThreadPoolExecutor(counters) as pool:
        outcomes = list(pool.map(counter, range(counters)))

    assert sorted(outcomes, key=str) == [(201, None)] + [(409, "coupon_used")] * 7
    db.session.remove()
    assert db.session.scalar(select(Coupon.state).where(Coupon.code == code)) == "redeemed"
    sales = db.session.scalars(select(Transaction.id).where(Transaction.kind == "checkout")).all()
    assert len(sales) == 1
    used_by = db.session.scalars(select(Redemption.transaction_id)).all()
    assert used_by == sales
