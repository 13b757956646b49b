"""Checkouts racing with a promotion in force: real commits, one session per thread.

One key sent by eight counters at once posts once, gives one coupon and counts one use;
eight keys at once each get the promotion, and the figures add up.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from app import clock
from app.campaigns import promotions
from app.campaigns.promotion_models import PromotionUse
from app.cards.services import enroll, resolve_card
from app.db import db, unit_of_work
from app.ledger.balances import card_balances
from app.ledger.models import Transaction
from app.ledger.operations import checkout
from app.ledger.redemption.models import Coupon, CouponType
from app.stores.services import create_store, get_store
from tests.ledger.test_concurrency_ledger import race

pytestmark = pytest.mark.concurrent
PHONE = "+8613700000031"
THREADS = 8


def _setup() -> int:
    """A member, a coupon type and a promotion in force now (2×, +5, a coupon)."""
    with unit_of_work():
        create_store("SH01", "静安店", "华东")
        enroll({"phone": PHONE, "home_store": "SH01"})
        db.session.add(CouponType(code="TEA10", name="奶茶九折券", kind="coupon", discount_bp=9000))
        db.session.flush()
        now = clock.now()
        promotion = promotions.create_promotion(
            promotions.PromotionTerms(
                names={"en": "Race week"},
                starts_at=now - dt.timedelta(days=1),
                ends_at=now + dt.timedelta(days=1),
                multiplier_bp=20000,
                bonus_points=5,
                coupon_type="TEA10",
            )
        )
        promotion_id = promotion.id
    db.session.remove()
    return promotion_id


def _pay(key: str) -> Any:
    result = checkout(resolve_card(PHONE), get_store("SH01"), 3000, "cash", key=key, actor="t")
    return result.transaction_id


def _count(model: type) -> int:
    return db.session.scalar(select(func.count()).select_from(model)) or 0


def test_one_key_from_eight_counters_gives_the_promotion_once(live_app: Flask) -> None:
    _setup()
    results = race(live_app, lambda i: _pay("same-key"), n=THREADS)
    assert all(isinstance(r, int) for r in results), results
    assert len(set(results)) == 1
    assert (_count(Transaction), _count(PromotionUse), _count(Coupon)) == (1, 1, 1)
    # 30 points, +30 for 2×, +5.
    assert card_balances(resolve_card(PHONE).id).points == 65


def test_eight_keys_at_once_each_get_it_and_the_figures_add_up(live_app: Flask) -> None:
    promotion_id = _setup()
    results = race(live_app, lambda i: _pay(f"key-{i}"), n=THREADS)
    assert all(isinstance(r, int) for r in results), results
    assert (_count(PromotionUse), _count(Coupon)) == (THREADS, THREADS)
    assert card_balances(resolve_card(PHONE).id).points == 65 * THREADS
    assert promotions.figures([promotion_id])[promotion_id] == promotions.PromotionFigures(
        1, THREADS, 35 * THREADS, THREADS
    )
