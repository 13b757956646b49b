"""The sign-up gift (on member_joined) and the referral bonus (on a first paid purchase)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from app import clock
from app.cards.services import member_cards
from app.db import db
from app.ledger import operations
from app.ledger.balances import card_balances
from app.ledger.models import PointsLot, Transaction
from app.ledger.rules.io import import_rules
from app.signals import member_joined

EXAMPLE = Path(__file__).parents[3] / "docs" / "rules.example.json"
THURSDAY = dt.datetime(2026, 11, 26, 4, tzinfo=dt.UTC)


@pytest.fixture
def rules(app: Any, make_store: Any) -> None:
    for code in ("SH01", "SH02", "BJ01"):
        make_store(code)
    import_rules(json.loads(EXAMPLE.read_text(encoding="utf-8")))


def points(member: Any) -> int:
    return card_balances(member_cards(member)[0].id).points


def buy(member: Any, amount_fen: int, key: str, pay_with: str = "cash") -> Any:
    from app.stores.services import get_store

    card = member_cards(member)[0]
    return operations.checkout(card, get_store("SH01"), amount_fen, pay_with, key=key, actor=None)


def test_signup_gift_once_per_member(rules: Any, make_member: Any) -> None:
    with clock.frozen(THURSDAY):
        member = make_member(card_type="points")
    assert points(member) == 100
    txn = db.session.scalar(select(Transaction).where(Transaction.idempotency_key.like("signup:%")))
    assert (txn.kind, txn.reason, txn.member_id) == ("gift", "signup_gift", member.id)
    lot = db.session.scalar(select(PointsLot))
    assert lot.expires_on == dt.date(2027, 12, 31)
    # The signal again (a retried join, another receiver's replay): no second gift.
    member_joined.send(member, card=member_cards(member)[0])
    assert points(member) == 100


def test_no_signup_gift_without_the_rule(app: Any, make_member: Any) -> None:
    member = make_member(card_type="points")
    assert points(member) == 0


def test_referrer_is_rewarded_once_when_the_referred_member_first_pays(
    rules: Any, make_member: Any
) -> None:
    referrer = make_member(card_type="points")
    friend = make_member(card_type="points", referrer=referrer.phone)
    assert points(referrer) == 100
    with clock.frozen(THURSDAY):
        buy(friend, 10000, "b1")
    assert points(referrer) == 300  # 100 sign-up + 200 referral
    assert points(friend) == 200  # 100 sign-up + 100 earned
    with clock.frozen(THURSDAY + dt.timedelta(days=1)):
        buy(friend, 5000, "b2")
    assert points(referrer) == 300
    referral = db.session.scalar(
        select(Transaction).where(Transaction.idempotency_key == f"referral:{friend.id}")
    )
    assert referral.reason == "referral"
    assert referral.details["referred_member"] == friend.id


def test_a_purchase_paid_wholly_with_points_is_not_a_first_spend(
    rules: Any, make_member: Any
) -> None:
    referrer = make_member(card_type="points")
    friend = make_member(card_type="points", referrer=referrer.phone)
    with clock.frozen(THURSDAY):
        buy(friend, 100, "b1", pay_with="points")  # 1 yuan: the 100 sign-up points
    assert points(friend) == 0
    assert points(referrer) == 100


def test_no_referral_without_a_referrer(rules: Any, make_member: Any) -> None:
    member = make_member(card_type="points")
    with clock.frozen(THURSDAY):
        buy(member, 10000, "b1")
    assert (
        db.session.scalar(
            select(Transaction.id).where(Transaction.idempotency_key.like("referral:%"))
        )
        is None
    )
