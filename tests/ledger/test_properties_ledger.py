"""Random sequences of recharges, checkouts, refunds, redemptions, time passing and expiry.

After every step: ``ledger check`` is clean (balances = lines, zero sums, lots =
balances, floors), no purchase is refunded for more than it charged, and the
points a purchase earned are never taken back more than once.
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ledger_support import THURSDAY
from sqlalchemy import func, select

from app.clock import frozen
from app.db import db
from app.errors import InsufficientFunds, InvalidRequest, RefundExceedsPurchase
from app.ledger import journal
from app.ledger.check import run_check
from app.ledger.expiry import expire_lots
from app.ledger.models import Transaction
from app.ledger.operations import checkout, recharge, refund
from app.stores.services import get_store

amounts = st.integers(min_value=1, max_value=30000)
steps = st.one_of(
    st.tuples(st.just("recharge"), amounts),
    st.tuples(
        st.just("checkout"),
        st.integers(min_value=1, max_value=9000),
        st.sampled_from(["stored_value", "stored_value", "cash"]),
        st.sampled_from([0, 0, 100, 300]),
    ),
    st.tuples(st.just("checkout"), st.integers(1, 500), st.just("points"), st.just(0)),
    st.tuples(st.just("refund"), st.integers(0, 20), st.one_of(st.none(), amounts)),
    st.tuples(st.just("redeem"), st.integers(1, 500)),
    st.tuples(st.just("age"), st.integers(100, 800)),
)
#: Refusals the rules allow; anything else is a bug.
EXPECTED = (InsufficientFunds, RefundExceedsPurchase, InvalidRequest)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=st.lists(steps, min_size=3, max_size=14))
def test_random_operations_keep_every_invariant(member_card: Any, ops: list[tuple]) -> None:
    keys = itertools.count()
    outer = db.session.begin_nested()
    try:
        _, card = member_card(credit_limit_fen=0)
        store = get_store("SH01")
        purchases: list[int] = []
        now = THURSDAY
        with frozen(now):  # a starting balance, so most random steps can go through
            recharge(card, store, 50000, key="start", actor="prop")
            journal.credit_points(card, 600, kind="gift", key="start-points", expires_on=None)
        for op in ops:
            key = f"p{next(keys)}"
            with frozen(now), db.session.begin_nested() as step:
                try:
                    _apply(op, card, store, key, purchases, now)
                except EXPECTED:
                    step.rollback()
                    continue
            if op[0] == "age":  # time passes, then the expiry run
                now += dt.timedelta(days=op[1])
                with frozen(now):
                    expire_lots(now.date())
            assert run_check().problems == []
            _assert_refunds_bounded()
    finally:
        outer.rollback()
        db.session.expunge_all()  # the next example starts from a clean identity map


def _apply(op: tuple, card: Any, store: Any, key: str, purchases: list[int], now: Any) -> None:
    kind = op[0]
    if kind == "recharge":
        recharge(card, store, op[1], key=key, actor="prop")
    elif kind == "checkout":
        _, amount, pay_with, offset = op
        result = checkout(
            card, store, amount, pay_with, points_offset=offset, key=key, actor="prop"
        )
        purchases.append(result.transaction_id)
    elif kind == "refund" and purchases:
        _, index, amount = op
        refund(purchases[index % len(purchases)], amount, key=key, actor="prop")
    elif kind == "redeem":
        journal.debit_points(card, op[1], kind="redemption", key=key)


def _assert_refunds_bounded() -> None:
    refunded = (
        select(Transaction.reverses_id, func.sum(Transaction.amount_fen).label("total"))
        .where(Transaction.kind == "refund")
        .group_by(Transaction.reverses_id)
        .subquery()
    )
    over = db.session.execute(
        select(Transaction.id)
        .join(refunded, refunded.c.reverses_id == Transaction.id)
        .where(refunded.c.total > Transaction.charged_fen)
    ).all()
    assert over == []
    earned: dict[int, int] = {}
    taken: dict[int, int] = {}
    for txn in db.session.scalars(
        select(Transaction).where(Transaction.kind.in_(["checkout", "refund"]))
    ):
        if txn.kind == "checkout":
            earned[txn.id] = int(txn.details.get("points_earned", 0))
        else:
            taken[txn.reverses_id] = (
                taken.get(txn.reverses_id, 0) + txn.details["points_taken_back"]
            )
    assert all(taken[t] <= earned[t] for t in taken)
