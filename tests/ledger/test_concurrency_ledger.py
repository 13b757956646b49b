"""Many counters at one card at once: real commits, one session per thread.

On PostgreSQL these are true races (row locks decide); on SQLite the write
lock serialises them. Either way: no overspend, exactly the affordable number
succeed, one posting per idempotency key, and ``ledger check`` stays clean.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from app.auth.services import create_api_key
from app.cards.services import issue_card
from app.db import db, unit_of_work
from app.errors import LaoyouError
from app.ledger import journal
from app.ledger.balances import card_balances
from app.ledger.check import run_check
from app.ledger.models import Transaction
from app.ledger.operations import checkout, load_value, recharge, refund
from app.ledger.rules.io import export_rules, replace_rules
from app.stores.services import create_store, get_store

pytestmark = pytest.mark.concurrent
THREADS = 16


def race(app: Flask, work: Callable[[int], Any], n: int = THREADS) -> list[Any]:
    """Run ``work(i)`` in ``n`` threads released together, each in its own unit of work.

    Returns each thread's result, or the error code it was refused with.
    """
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def run(i: int) -> None:
        with app.app_context():
            barrier.wait()
            try:
                with unit_of_work():
                    results[i] = work(i)
            except LaoyouError as exc:
                results[i] = exc.code
            except Exception as exc:
                results[i] = exc
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    unexpected = [r for r in results if isinstance(r, Exception)]
    assert not unexpected, unexpected
    return results


def setup_card(card_type: str = "stored_value", fen: int = 0, **options: Any) -> tuple[int, int]:
    with unit_of_work():
        store = create_store("SH01", "Store 1", "East")
        card = issue_card(card_type, store=store, **options)
        if fen:
            load_value(card, fen, idempotency_key=f"load:{card.number}", actor="test")
        ids = (card.id, store.id)
    db.session.remove()
    return ids


def _card(card_id: int) -> Any:
    from app.cards.models import Card

    return db.session.get(Card, card_id)


def assert_clean() -> None:
    db.session.remove()
    assert run_check().problems == []
    db.session.remove()


def test_sixteen_checkouts_at_once_never_overspend(live_app: Flask) -> None:
    card_id, _ = setup_card(fen=10000)

    def buy(i: int) -> Any:
        return checkout(
            _card(card_id), get_store("SH01"), 1000, "stored_value", key=f"buy-{i}", actor="t"
        ).transaction_id

    results = race(live_app, buy)
    outcome = Counter("ok" if isinstance(r, int) else r for r in results)
    assert outcome == {"ok": 10, "insufficient_funds": 6}
    assert card_balances(card_id).stored_value_fen == 0
    assert_clean()


def test_sixteen_at_once_stop_at_the_credit_limit(live_app: Flask) -> None:
    card_id, _ = setup_card(fen=3000, credit_limit_fen=5000)

    def buy(i: int) -> Any:
        return checkout(
            _card(card_id), get_store("SH01"), 1000, "stored_value", key=f"buy-{i}", actor="t"
        ).transaction_id

    outcome = Counter("ok" if isinstance(r, int) else r for r in race(live_app, buy))
    assert outcome == {"ok": 8, "insufficient_funds": 8}
    assert card_balances(card_id).stored_value_fen == -5000
    assert_clean()


def test_sixteen_at_once_stop_at_the_rules_credit_limit(live_app: Flask) -> None:
    """A card without a limit of its own follows the overdraft rule for its type."""
    card_id, _ = setup_card(fen=3000)
    with unit_of_work():
        document = export_rules()
        document["overdraft_limits"] = [{"card_type": "stored_value", "credit_limit_fen": 5000}]
        replace_rules(document)
    db.session.remove()

    def buy(i: int) -> Any:
        return checkout(
            _card(card_id), get_store("SH01"), 1000, "stored_value", key=f"buy-{i}", actor="t"
        ).transaction_id

    outcome = Counter("ok" if isinstance(r, int) else r for r in race(live_app, buy))
    assert outcome == {"ok": 8, "insufficient_funds": 8}
    assert card_balances(card_id).stored_value_fen == -5000
    assert_clean()


def test_sixteen_points_debits_at_once(live_app: Flask) -> None:
    """fuint#71: concurrent requests must not multiply points. 500 points, 16 x 100 asked."""
    card_id, _ = setup_card()
    with unit_of_work():
        card = _card(card_id)
        for n in range(5):  # five lots, so the debits also race over lots
            journal.credit_points(card, 100, kind="gift", key=f"gift-{n}", expires_on=None)
    db.session.remove()

    def redeem(i: int) -> Any:
        return journal.debit_points(_card(card_id), 100, kind="redemption", key=f"r-{i}").id

    outcome = Counter("ok" if isinstance(r, int) else r for r in race(live_app, redeem))
    assert outcome == {"ok": 5, "insufficient_funds": 11}
    assert card_balances(card_id).points == 0
    assert_clean()


def test_two_checkouts_spending_one_gift_card(live_app: Flask) -> None:
    """Azuriom/Plugin-Shop#285: one gift card spent twice by two checkouts at once."""
    card_id, _ = setup_card("gift", fen=10000)

    def buy(i: int) -> Any:
        return checkout(
            _card(card_id), get_store("SH01"), 6000, "stored_value", key=f"gift-{i}", actor="t"
        ).transaction_id

    outcome = Counter("ok" if isinstance(r, int) else r for r in race(live_app, buy, n=2))
    assert outcome == {"ok": 1, "insufficient_funds": 1}
    assert card_balances(card_id).stored_value_fen == 4000
    assert_clean()


def test_sixteen_partial_refunds_of_one_purchase(live_app: Flask) -> None:
    card_id, _ = setup_card(fen=20000)
    with unit_of_work():
        bought = checkout(
            _card(card_id), get_store("SH01"), 10000, "stored_value", key="buy", actor="t"
        )
    db.session.remove()

    def give_back(i: int) -> Any:
        return refund(bought.transaction_id, 1000, key=f"refund-{i}", actor="t").transaction_id

    outcome = Counter("ok" if isinstance(r, int) else r for r in race(live_app, give_back))
    assert outcome == {"ok": 10, "refund_exceeds_purchase": 6}
    assert card_balances(card_id).stored_value_fen == 20000
    assert_clean()


def test_sixteen_services_calls_with_one_key_post_once(live_app: Flask) -> None:
    card_id, _ = setup_card()

    def pay_in(i: int) -> Any:
        return recharge(_card(card_id), get_store("SH01"), 1000, key="one-key", actor="t")

    results = race(live_app, pay_in)
    assert len({r.transaction_id for r in results}) == 1
    assert card_balances(card_id).stored_value_fen == 1000
    assert db.session.scalar(select(func.count(Transaction.id))) == 1
    assert_clean()


def test_sixteen_http_replays_of_one_idempotency_key_post_once(live_app: Flask) -> None:
    card_id, _ = setup_card()
    with unit_of_work():
        _, secret = create_api_key(get_store("SH01"))
        number = _card(card_id).number
    db.session.remove()
    barrier = threading.Barrier(THREADS)
    answers: list[Any] = [None] * THREADS

    def send(i: int) -> None:
        client = live_app.test_client()
        barrier.wait()
        r = client.post(
            f"/api/v1/cards/{number}/recharge",
            json={"amount_fen": 1000, "store": "SH01"},
            headers={"Authorization": f"Bearer {secret}", "Idempotency-Key": "pos-42"},
        )
        answers[i] = (r.status_code, r.get_data())

    threads = [threading.Thread(target=send, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    statuses = Counter(status for status, _ in answers)
    assert set(statuses) <= {201, 409}
    created = {body for status, body in answers if status == 201}
    assert len(created) == 1, "every 201 carries the same body"
    assert card_balances(card_id).stored_value_fen == 1000
    assert db.session.scalar(select(func.count(Transaction.id))) == 1
    assert_clean()
