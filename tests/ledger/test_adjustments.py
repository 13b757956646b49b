"""Manual adjustments and card returns (退卡): services, the CLI and the API."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from ledger_support import THURSDAY, card_lines, counts, lots, refused
from sqlalchemy import select

from app import clock
from app.cards.models import CardEvent
from app.cards.services import find_card, issue_card, member_cards
from app.db import db
from app.errors import (
    AmountTooLarge,
    CardNotActive,
    CardOverdrawn,
    IdempotencyConflict,
    InsufficientFunds,
    InvalidRequest,
)
from app.ledger.adjustments import adjust, return_card
from app.ledger.balances import card_balances, member_balances
from app.ledger.check import run_check
from app.ledger.models import Line, Transaction, system_account_id
from app.ledger.operations import checkout, load_value, recharge
from app.ledger.rules.levels import growth_of
from app.messaging.models import OutboxMessage
from app.stores.services import get_store


def _outbox() -> int:
    return len(db.session.scalars(select(OutboxMessage)).all())


def _system_lines(txn_id: int) -> dict[tuple[int, str], int]:
    return {
        (account_id, asset): int(amount)
        for account_id, asset, amount in db.session.execute(
            select(Line.account_id, Line.asset, Line.amount).where(
                Line.transaction_id == txn_id, Line.balance_after.is_(None)
            )
        )
    }


# --- adjustments --------------------------------------------------------------------------


def test_points_up_and_down_with_a_reason(member_card: Any) -> None:
    member, card = member_card()
    with clock.frozen(THURSDAY):
        up = adjust(card, points=300, reason="客诉补偿", actor="staff:li", key="a1")
    assert up.balances.points == 300
    # Given points expire as earned points do (the rules: end of next year).
    assert lots(card.id) == [(300, 300, dt.date(2027, 12, 31))]
    txn = db.session.get(Transaction, up.transaction_id)
    assert (txn.kind, txn.actor, txn.details["reason"]) == ("adjustment", "staff:li", "客诉补偿")

    down = adjust(card, points=-120, reason="wrongly given", actor="staff:li", key="a2")

    assert down.balances.points == 180
    assert card_lines(down.transaction_id) == {"points": -120}
    assert _system_lines(down.transaction_id) == {
        (system_account_id("issued", "points"), "points"): 120
    }
    assert growth_of(member) == 0  # growth untouched
    assert run_check().problems == []


def test_stored_value_up_is_bonus_and_down_takes_bonus_first(member_card: Any) -> None:
    _, card = member_card()
    recharge(card, get_store("SH01"), 10000, key="r1", actor="t")  # 100 yuan paid, no bonus
    up = adjust(card, stored_value_fen=2000, reason="goodwill", actor="staff:li", key="a1")
    assert card_lines(up.transaction_id) == {"stored_value_bonus": 2000}

    down = adjust(card, stored_value_fen=-2500, reason="typo", actor="staff:li", key="a2")

    assert card_lines(down.transaction_id) == {
        "stored_value_bonus": -2000,
        "stored_value_paid": -500,
    }
    assert down.balances.stored_value_fen == 9500
    assert run_check().problems == []


def test_an_adjustment_never_takes_a_card_below_zero(member_card: Any) -> None:
    _, card = member_card()
    load_value(card, 1000, idempotency_key="l1", actor="t")
    adjust(card, points=50, reason="gift", actor="staff:li", key="p")

    error = refused(
        InsufficientFunds,
        adjust,
        card,
        stored_value_fen=-1001,
        reason="too much",
        actor="staff:li",
        key="a1",
    )
    assert error.details["asset"] == "stored_value_paid"
    refused(InsufficientFunds, adjust, card, points=-51, reason="x", actor="s", key="a2")
    assert card_balances(card.id).stored_value_fen == 1000


def test_an_adjustment_may_use_the_cards_credit_limit(make_card: Any, make_store: Any) -> None:
    card = make_card(credit_limit_fen=3000)
    result = adjust(card, stored_value_fen=-3000, reason="owed", actor="staff:li", key="a1")
    assert result.balances.stored_value_fen == -3000
    refused(InsufficientFunds, adjust, card, stored_value_fen=-1, reason="x", actor="s", key="b")


def test_the_same_key_posts_once_and_another_request_with_it_is_refused(member_card: Any) -> None:
    _, card = member_card()
    first = adjust(card, points=10, reason="r", actor="staff:li", key="k")
    again = adjust(card, points=10, reason="r", actor="staff:li", key="k")
    assert (again.replayed, again.transaction_id, again.balances.points) == (
        True,
        first.transaction_id,
        10,
    )
    refused(IdempotencyConflict, adjust, card, points=11, reason="r", actor="staff:li", key="k")
    assert card_balances(card.id).points == 10


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"points": 0, "stored_value_fen": 0}, InvalidRequest),
        ({"points": 1, "reason": "  "}, InvalidRequest),
        ({"points": 1, "reason": "two\nlines"}, InvalidRequest),
        ({"points": 1, "reason": "nul\x00"}, InvalidRequest),
        ({"points": 1, "reason": "x" * 201}, InvalidRequest),
        ({"points": 1.5}, InvalidRequest),
        ({"points": True}, InvalidRequest),
        ({"points": 10**12}, AmountTooLarge),
        ({"stored_value_fen": 10_000_001}, AmountTooLarge),
        ({"stored_value_fen": -10_000_001}, AmountTooLarge),
        ({"points": 1, "actor": ""}, InvalidRequest),
    ],
)
def test_bad_adjustments_change_nothing(
    member_card: Any, kwargs: dict[str, Any], error: type[Exception]
) -> None:
    _, card = member_card()
    args = {"reason": "r", "actor": "staff:li", "key": "k", **kwargs}
    refused(error, adjust, card, **args)


def test_a_cancelled_card_is_not_adjusted(member_card: Any) -> None:
    from app.cards.services import change_state

    _, card = member_card()
    change_state(card, "cancel")
    refused(CardNotActive, adjust, card, points=5, reason="r", actor="s", key="k")


def test_an_adjustment_sends_no_alert_but_shows_on_the_statement(
    member_card: Any, api: Any
) -> None:
    member, card = member_card()
    before = _outbox()
    adjust(card, stored_value_fen=500, reason="补偿", actor="staff:li", key="k")
    assert _outbox() == before
    answer = api.get(f"/api/v1/members/{member.phone}/transactions").get_json()
    entry = answer["transactions"][0]
    assert (entry["kind"], entry["reason"], entry["changes"]["stored_value_fen"]) == (
        "adjustment",
        "manual",
        500,
    )


def test_cli_adjust(runner: Any, member_card: Any) -> None:
    _, card = member_card()
    result = runner.invoke(
        args=["ledger", "adjust", card.number, "--points", "250", "--reason", "补偿", "--key", "c1"]
    )
    assert result.exit_code == 0, result.output
    assert f"adjusted card {card.number}: points +250" in result.output
    assert "now points 250" in result.output
    txn = db.session.scalars(select(Transaction).where(Transaction.kind == "adjustment")).one()
    assert txn.actor.startswith("cli:") and len(txn.actor) > 4
    again = runner.invoke(
        args=["ledger", "adjust", card.number, "--points", "250", "--reason", "补偿", "--key", "c1"]
    )
    assert "already adjusted" in again.output
    assert card_balances(card.id).points == 250


def test_cli_adjust_refusals(runner: Any, member_card: Any) -> None:
    _, card = member_card()
    no_amount = runner.invoke(args=["ledger", "adjust", card.number, "--reason", "x"])
    assert no_amount.exit_code == 2 and "--points or --stored-value-fen" in no_amount.output
    short = runner.invoke(
        args=["ledger", "adjust", card.number, "--stored-value-fen", "-100", "--reason", "x"]
    )
    assert short.exit_code == 1 and "not enough stored value" in short.output
    unknown = runner.invoke(args=["ledger", "adjust", "999", "--points", "1", "--reason", "x"])
    assert unknown.exit_code == 1 and "no card matches" in unknown.output
    assert counts()["ledger_transaction"] == 0


# --- returns ------------------------------------------------------------------------------


def test_return_refunds_paid_value_forfeits_bonus_and_moves_points(member_card: Any) -> None:
    member, card = member_card()
    other = issue_card("stored_value", member=member, store=get_store("SH01"))
    store = get_store("SH01")
    with clock.frozen(THURSDAY):
        recharge(card, store, 50000, key="r1", actor="t")  # 500 paid + 50 bonus
        checkout(card, store, 11000, "stored_value", key="c1", actor="t")  # earns 110 points
    # 110 yuan spent pro rata: 100 paid, 10 bonus.
    assert card_balances(card.id).stored_value_fen == 44000

    result = return_card(card, reason="搬家", actor="staff:li", key="ret1", store=store)

    assert (result.refunded_fen, result.bonus_forfeited_fen) == (40000, 4000)
    assert (result.points_moved, result.points_moved_to, result.points_forfeited) == (
        110,
        other.number,
        0,
    )
    assert card.state == "cancelled"
    assert card_balances(card.id).as_dict() == {"points": 0, "stored_value_fen": 0, "visits": 0}
    assert card_balances(other.id).points == 110
    assert lots(other.id)[0][2] == dt.date(2027, 12, 31)  # the points keep their expiry
    assert member_balances(member.id).points == 110
    # The member's phone now finds the card that took the points.
    assert (card.is_primary, other.is_primary) == (False, True)
    assert find_card(member.phone).id == other.id
    assert _system_lines(result.transaction_id) == {
        (system_account_id("issued", "stored_value_paid"), "stored_value_paid"): 40000,
        (system_account_id("breakage", "stored_value_bonus"), "stored_value_bonus"): 4000,
    }
    event = db.session.scalars(
        select(CardEvent).where(CardEvent.card_id == card.id).order_by(CardEvent.id.desc())
    ).first()
    assert (event.action, event.reason, event.actor) == ("cancel", "搬家", "staff:li")
    txn = db.session.get(Transaction, result.transaction_id)
    assert (txn.kind, txn.amount_fen, txn.store_id) == ("return", 40000, store.id)
    assert run_check().problems == []


def test_cancelling_a_primary_card_prefers_an_active_successor(member_card: Any) -> None:
    from app.cards.services import change_state

    member, card = member_card()
    frozen = issue_card("points", member=member, store=get_store("SH01"))
    change_state(frozen, "freeze")
    active = issue_card("points", member=member, store=get_store("SH01"))
    change_state(card, "cancel")
    assert [c.is_primary for c in (card, frozen, active)] == [False, False, True]
    change_state(active, "cancel")
    assert [c.is_primary for c in (card, frozen, active)] == [False, True, False]
    change_state(frozen, "cancel")  # the last card: it stays the primary one
    assert [c.is_primary for c in (card, frozen, active)] == [False, True, False]


def test_an_anonymous_gift_card_is_returned(make_card: Any) -> None:
    card = make_card("gift")
    load_value(card, 20000, idempotency_key="l", actor="t")
    checkout(card, get_store("SH01"), 5000, "stored_value", key="c", actor="t")
    result = return_card(card, reason="unused", actor="staff:li", key="k")
    assert (result.refunded_fen, result.bonus_forfeited_fen, result.points_moved_to) == (
        15000,
        0,
        None,
    )
    assert card.state == "cancelled"


def test_return_of_a_members_only_card_forfeits_points_and_visits(member_card: Any) -> None:
    member, card = member_card(card_type="count")
    load_value(card, 0, visits=5, idempotency_key="l", actor="t")
    adjust(card, points=70, reason="r", actor="s", key="p")

    result = return_card(card, reason="closing", actor="staff:li", key="k")

    assert (result.points_moved, result.points_moved_to, result.points_forfeited) == (0, None, 70)
    assert (result.refunded_fen, result.visits_forfeited) == (0, 5)
    assert _system_lines(result.transaction_id) == {
        (system_account_id("breakage", "points"), "points"): 70,
        (system_account_id("breakage", "visits"), "visits"): 5,
    }
    assert member_balances(member.id).points == 0


def test_return_replays_by_key_and_refuses_a_second_return(member_card: Any) -> None:
    _, card = member_card()
    load_value(card, 3000, idempotency_key="l", actor="t")
    first = return_card(card, reason="r", actor="s", key="k")
    again = return_card(card, reason="r", actor="s", key="k")
    assert (again.replayed, again.transaction_id, again.refunded_fen) == (
        True,
        first.transaction_id,
        3000,
    )
    refused(CardNotActive, return_card, card, reason="r", actor="s", key="other")


def test_an_overdrawn_card_is_not_returned(make_card: Any) -> None:
    card = make_card(credit_limit_fen=5000)
    checkout(card, get_store("SH01"), 2000, "stored_value", key="c", actor="t")
    error = refused(CardOverdrawn, return_card, card, reason="r", actor="s", key="k")
    assert error.details == {"overdrawn_fen": 2000}
    assert card.state == "active"


def test_cli_cards_return(runner: Any, member_card: Any) -> None:
    _, card = member_card()
    load_value(card, 1234, idempotency_key="l", actor="t")
    result = runner.invoke(args=["cards", "return", card.number, "--reason", "不用了"])
    assert result.exit_code == 0, result.output
    assert f"card {card.number} returned" in result.output
    assert "refund 12.34 yuan; bonus forfeited 0.00 yuan; points forfeited 0;" in result.output
    twice = runner.invoke(args=["cards", "return", card.number, "--reason", "不用了"])
    assert twice.exit_code == 1 and "the card is cancelled" in twice.output


def test_api_return(api: Any, member_card: Any) -> None:
    _, card = member_card()
    recharge(card, get_store("SH01"), 50000, key="r1", actor="t")
    headers = {"Idempotency-Key": "ret-1"}
    body = {"reason": "member moved away"}

    answer = api.post(f"/api/v1/cards/{card.number}/return", json=body, headers=headers)

    assert answer.status_code == 201, answer.get_json()
    data = answer.get_json()
    assert data == {
        "transaction_id": data["transaction_id"],
        "card": card.number,
        "state": "cancelled",
        "refunded_fen": 50000,
        "bonus_forfeited_fen": 5000,
        "points_moved": 0,
        "points_moved_to": None,
        "points_forfeited": 0,
        "visits_forfeited": 0,
    }
    replay = api.post(f"/api/v1/cards/{card.number}/return", json=body, headers=headers)
    assert (replay.status_code, replay.get_json()) == (201, data)
    again = api.post(
        f"/api/v1/cards/{card.number}/return", json=body, headers={"Idempotency-Key": "ret-2"}
    )
    assert (again.status_code, again.get_json()["error"]["code"]) == (409, "card_not_active")


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"reason": ""},
        {"reason": "a\nb"},
        {"reason": "x" * 201},
        {"reason": 5},
        {"reason": "\x00"},
    ],
)
def test_api_return_bad_input(api: Any, member_card: Any, body: dict[str, Any]) -> None:
    _, card = member_card()
    answer = api.post(
        f"/api/v1/cards/{card.number}/return", json=body, headers={"Idempotency-Key": "k"}
    )
    assert answer.status_code == 400
    assert card.state == "active"


def test_api_return_unknown_card_and_no_key(api: Any, member_card: Any) -> None:
    _, card = member_card()
    missing = api.post(
        "/api/v1/cards/12345/return", json={"reason": "r"}, headers={"Idempotency-Key": "k"}
    )
    assert missing.status_code == 404
    no_key = api.post(f"/api/v1/cards/{card.number}/return", json={"reason": "r"})
    assert no_key.status_code == 400
    assert member_cards(card.member)[0].state == "active"


# --- concurrency --------------------------------------------------------------------------


@pytest.mark.concurrent
def test_adjustments_and_checkouts_at_once_never_overspend(live_app: Any) -> None:
    """Eight take-backs of 10 yuan and eight 10-yuan checkouts race for 100 yuan."""
    from test_concurrency_ledger import _card, assert_clean, race, setup_card

    card_id, _ = setup_card(fen=10000)

    def work(i: int) -> Any:
        if i % 2:
            return adjust(
                _card(card_id), stored_value_fen=-1000, reason="r", actor="s", key=f"a{i}"
            ).transaction_id
        return checkout(
            _card(card_id), get_store("SH01"), 1000, "stored_value", key=f"c{i}", actor="t"
        ).transaction_id

    from collections import Counter

    outcome = Counter("ok" if isinstance(r, int) else r for r in race(live_app, work))
    assert outcome == {"ok": 10, "insufficient_funds": 6}
    assert card_balances(card_id).stored_value_fen == 0
    assert_clean()


@pytest.mark.concurrent
def test_a_return_and_checkouts_at_once(live_app: Any) -> None:
    """The return refunds exactly what the checkouts that came first left on the card."""
    from test_concurrency_ledger import _card, assert_clean, race, setup_card

    card_id, _ = setup_card(fen=10000)

    def work(i: int) -> Any:
        if i == 0:
            return ("return", return_card(_card(card_id), reason="r", actor="s", key="ret"))
        return checkout(
            _card(card_id), get_store("SH01"), 1000, "stored_value", key=f"c{i}", actor="t"
        ).transaction_id

    results = race(live_app, work, n=8)
    returned = next(r[1] for r in results if isinstance(r, tuple))
    sold = sum(1 for r in results if isinstance(r, int))
    assert returned.refunded_fen + sold * 1000 == 10000
    assert card_balances(card_id).stored_value_fen == 0
    assert_clean()
