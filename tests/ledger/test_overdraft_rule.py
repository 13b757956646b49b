"""Overdraft limits per card type (透支额度) as a rule of the programme.

A card's limit in force is its own ``credit_limit_fen`` when one was set for it, else the
rules' limit for its type, read at each checkout: a changed rule applies to the next one.
"""

from __future__ import annotations

import copy
import csv
import io
from typing import Any

import pytest
from ledger_support import THURSDAY, refused

from app.cards.services import find_card, replace_card
from app.clock import frozen
from app.db import db
from app.errors import InsufficientFunds, InvalidRequest
from app.ledger.adjustments import adjust
from app.ledger.balances import card_balances
from app.ledger.check import run_check
from app.ledger.member_csv import export_members, import_members
from app.ledger.operations import checkout, recharge
from app.ledger.rules.engine import credit_limit
from app.ledger.rules.io import export_rules, import_rules, replace_rules
from app.limits import MAX_CREDIT_LIMIT_FEN
from app.stores.services import get_store


def set_overdraft(limits: list[dict[str, Any]]) -> None:
    document = export_rules()
    document["overdraft_limits"] = limits
    replace_rules(document)


def stored_value(fen: int) -> list[dict[str, Any]]:
    return [{"card_type": "stored_value", "credit_limit_fen": fen}]


def buy(card: Any, amount_fen: int, key: str) -> Any:
    with frozen(THURSDAY):
        return checkout(card, get_store("SH01"), amount_fen, "stored_value", key=key, actor="t")


def top_up(card: Any, amount_fen: int, key: str) -> Any:
    with frozen(THURSDAY):
        return recharge(card, get_store("SH01"), amount_fen, key=key, actor="t")


@pytest.fixture
def card(ledger_rules: Any, make_card: Any) -> Any:
    """A stored value card with ¥50 on it and no overdraft of its own."""
    card = make_card("stored_value", store=get_store("SH01"))
    assert card.credit_limit_fen is None
    top_up(card, 5000, "r1")
    return card


def test_rule_at_zero_refuses_a_checkout_past_the_balance(card: Any) -> None:
    set_overdraft(stored_value(0))
    refused(InsufficientFunds, buy, card, 5001, "c1")
    assert card_balances(card.id).stored_value_fen == 5000
    assert credit_limit(card) == 0


def test_rule_of_100_yuan_allows_minus_100_and_not_a_fen_more(card: Any) -> None:
    set_overdraft(stored_value(10000))
    error = refused(InsufficientFunds, buy, card, 15001, "c1")  # would end at -100.01
    assert error.details == {"asset": "stored_value_paid", "needed": 15001, "available": 15000}
    assert buy(card, 15000, "c2").balances.stored_value_fen == -10000
    refused(InsufficientFunds, buy, card, 1, "c3")
    assert card_balances(card.id).stored_value_fen == -10000
    assert run_check().problems == []


def test_a_changed_rule_applies_at_the_next_checkout(card: Any) -> None:
    refused(InsufficientFunds, buy, card, 6000, "c1")  # the example rules: no overdraft
    set_overdraft(stored_value(2000))
    assert buy(card, 6000, "c2").balances.stored_value_fen == -1000
    set_overdraft([])
    refused(InsufficientFunds, buy, card, 1, "c3")


def test_a_card_with_its_own_limit_keeps_it(ledger_rules: Any, make_card: Any) -> None:
    own = make_card("stored_value", store=get_store("SH01"), credit_limit_fen=3000)
    none = make_card("stored_value", store=get_store("SH01"), credit_limit_fen=0)
    set_overdraft(stored_value(10000))
    assert (credit_limit(own), credit_limit(none)) == (3000, 0)
    refused(InsufficientFunds, buy, own, 3001, "o1")
    assert buy(own, 3000, "o2").balances.stored_value_fen == -3000
    refused(InsufficientFunds, buy, none, 1, "n1")


def test_only_stored_value_cards_follow_the_rule(ledger_rules: Any, make_card: Any) -> None:
    set_overdraft(stored_value(10000))
    points = make_card("points", store=get_store("SH01"))
    assert credit_limit(points) == 0


def test_a_replacement_card_still_follows_the_rule(card: Any) -> None:
    set_overdraft(stored_value(10000))
    buy(card, 8000, "c1")  # -30.00
    new = replace_card(card, actor="t", reason="lost")
    db.session.flush()
    assert new.credit_limit_fen is None
    assert card_balances(new.id).stored_value_fen == -3000
    assert buy(new, 7000, "c2").balances.stored_value_fen == -10000


def test_an_adjustment_may_use_the_rule(card: Any) -> None:
    set_overdraft(stored_value(2000))
    result = adjust(card, stored_value_fen=-7000, reason="owed", actor="staff:li", key="a1")
    assert result.balances.stored_value_fen == -2000
    refused(InsufficientFunds, adjust, card, stored_value_fen=-1, reason="x", actor="s", key="b")


def test_ledger_check_uses_the_limit_in_force(card: Any) -> None:
    set_overdraft(stored_value(10000))
    buy(card, 12000, "c1")  # -70.00
    assert run_check().problems == []
    set_overdraft(stored_value(5000))  # lowered below the card's debt
    [problem] = run_check().problems
    assert f"card {card.number}" in problem and "below its floor (-5000)" in problem


@pytest.mark.parametrize(
    ("limits", "field"),
    [
        ([{"card_type": "points", "credit_limit_fen": 1}], "overdraft_limits[0].credit_limit_fen"),
        (stored_value(-1), "overdraft_limits[0].credit_limit_fen"),
        (stored_value(MAX_CREDIT_LIMIT_FEN + 1), "overdraft_limits[0].credit_limit_fen"),
        (
            [{"card_type": "stored_value", "credit_limit_fen": 10.5}],
            "overdraft_limits[0].credit_limit_fen",
        ),
        (
            [{"card_type": "stored_value", "credit_limit_fen": "100"}],
            "overdraft_limits[0].credit_limit_fen",
        ),
        (
            [{"card_type": "stored_value", "credit_limit_fen": True}],
            "overdraft_limits[0].credit_limit_fen",
        ),
        ([{"card_type": "platinum", "credit_limit_fen": 0}], "overdraft_limits[0].card_type"),
        ([{"credit_limit_fen": 0}], "overdraft_limits[0].card_type"),
        (stored_value(100) + stored_value(200), "overdraft_limits[1].card_type"),
        ([{"card_type": "stored_value", "credit_limit_fen": 1, "x": 1}], "overdraft_limits[0].x"),
        ({"stored_value": 100}, "overdraft_limits"),
    ],
)
def test_bad_overdraft_rules_are_refused_and_change_nothing(
    ledger_rules: Any, limits: Any, field: str
) -> None:
    set_overdraft(stored_value(700))
    before = export_rules()
    document = copy.deepcopy(before)
    document["overdraft_limits"] = limits
    with pytest.raises(InvalidRequest) as info:
        import_rules(document)
    assert info.value.details["field"] == field
    assert export_rules()["overdraft_limits"] == stored_value(700)


def test_the_api_shows_the_limit_in_force_and_checks_out_to_it(
    api: Any, card: Any, make_card: Any
) -> None:
    own = make_card("stored_value", store=get_store("SH01"), credit_limit_fen=3000)
    assert api.get(f"/api/v1/cards/{card.number}").json["card"]["credit_limit_fen"] == 0
    set_overdraft(stored_value(10000))
    assert api.get(f"/api/v1/cards/{card.number}").json["card"]["credit_limit_fen"] == 10000
    assert api.get(f"/api/v1/cards/{own.number}").json["card"]["credit_limit_fen"] == 3000

    def pay(amount_fen: int, key: str) -> Any:
        body = {"card": card.number, "store": "SH01", "amount_fen": amount_fen}
        with frozen(THURSDAY):
            return api.post(
                "/api/v1/checkout",
                json={**body, "pay_with": "stored_value"},
                headers={"Idempotency-Key": key},
            )

    refused_answer = pay(15001, "k1")
    assert refused_answer.status_code == 409, refused_answer.json
    assert refused_answer.json["error"]["code"] == "insufficient_funds"
    answer = pay(15000, "k2")
    assert answer.status_code == 201, answer.json
    assert answer.json["balances"]["stored_value_fen"] == -10000


def test_a_card_issued_by_the_api_without_a_limit_follows_the_rule(api: Any, card: Any) -> None:
    set_overdraft(stored_value(20000))
    issued = api.post("/api/v1/cards", json={"type": "stored_value"})
    assert issued.status_code == 201
    assert issued.json["card"]["credit_limit_fen"] == 20000
    zero = api.post("/api/v1/cards", json={"type": "stored_value", "credit_limit_fen": 0})
    assert zero.json["card"]["credit_limit_fen"] == 0


def test_an_imported_card_follows_the_rule_unless_its_row_sets_a_limit(ledger_rules: Any) -> None:
    set_overdraft(stored_value(10000))
    text = (
        "phone,home_store,card_number,card_type,credit_limit_fen,stored_value_fen\n"
        "13800138001,SH01,6200101,stored_value,,5000\n"
        "13800138002,SH01,6200102,stored_value,0,5000\n"
        "13800138003,SH01,6200103,stored_value,2500,-2500\n"
    )
    report = import_members(io.BytesIO(text.encode()), actor="cli:test")
    assert report.refusals == []
    follows, none, own = (find_card(n) for n in ("6200101", "6200102", "6200103"))
    assert (follows.credit_limit_fen, none.credit_limit_fen, own.credit_limit_fen) == (
        None,
        0,
        2500,
    )
    assert [credit_limit(c) for c in (follows, none, own)] == [10000, 0, 2500]
    out = io.StringIO()
    export_members(out)
    # The export writes the card's own limit only: an empty cell follows the rule again.
    cells = {
        row["card_number"]: row["credit_limit_fen"]
        for row in csv.DictReader(io.StringIO(out.getvalue().lstrip("\ufeff")))
    }
    assert cells == {"6200101": "", "6200102": "0", "6200103": "2500"}
    assert buy(follows, 15000, "f1").balances.stored_value_fen == -10000
