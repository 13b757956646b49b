"""``checkout_card``: the API's checkout, from the card reference the POS sends.

The card is found through ``app.cards`` (a number, a medium or the holder's phone), then
the ledger takes its own locking read of the card's accounts: every reference gives the
same result. With ``LEDGER_FUSED_CARD_READ`` on (the default) a card number is read in the
ledger's locking statement instead, with ``app.cards``' statement piece: one round trip;
tests/ledger/test_plain_card_read.py runs this module again with it off.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import current_app
from ledger_support import THURSDAY, counts
from sqlalchemy import event, select

from app.cards.models import Card
from app.cards.services import add_medium, change_state, replace_card, set_pin
from app.clock import frozen
from app.db import db
from app.db.prepared import observed
from app.errors import CardNotActive, InvalidRequest, NotFound, WrongPin
from app.ledger.operations import checkout_card, load_value
from app.stores.services import get_store


def _pay(ref: str, amount_fen: int, key: str) -> Any:
    return checkout_card(ref, get_store("SH01"), amount_fen, "stored_value", key=key, actor="t")


def _statements(fn: Any) -> tuple[Any, list[str]]:
    seen: list[str] = []

    def collect(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    connection = db.connection()
    event.listen(connection, "before_cursor_execute", collect)
    try:
        with observed(seen.append):
            result = fn()
    finally:
        event.remove(connection, "before_cursor_execute", collect)
    return result, seen


def test_the_card_is_found_through_cards_then_the_ledger_locks_its_accounts(
    member_card: Any,
) -> None:
    member, card = member_card("Silver")
    load_value(card, 10000, idempotency_key="load", actor="t")
    number = card.number
    db.session.flush()
    db.session.expunge_all()
    with frozen(THURSDAY):
        by_number, seen = _statements(lambda: _pay(number, 2000, "k1"))
        by_phone, seen_phone = _statements(lambda: _pay(member.phone, 2000, "k2"))
    # Silver pays 95%: 19.00 yuan each time, and the balances come back as the usual path's.
    assert (by_number.charged_fen, by_number.discount_fen) == (1900, 100)
    assert by_phone.balances.stored_value_fen == by_number.balances.stored_value_fen - 1900
    assert by_number.balances.points == 19 and by_phone.balances.points == 38
    fused = current_app.config["LEDGER_FUSED_CARD_READ"]
    # A phone always goes the plain way; a number too when the fused read is off.
    for statements in (seen_phone,) if fused else (seen, seen_phone):
        card_reads = [s for s in statements if "FROM card" in s]
        # The card lookup reads no ledger table; the ledger's locking read comes after it.
        assert card_reads and not any("ledger_account" in s for s in card_reads)
        locking = [s for s in statements if s.startswith("SELECT ledger_account.id")]
        assert len(locking) == 1
        assert statements.index(card_reads[0]) < statements.index(locking[0])
    if fused:
        # One statement finds the card (cards' piece) and locks its accounts, before any
        # other read of the card or the ledger.
        card_reads = [s for s in seen if "FROM card" in s]
        assert len(card_reads) == 1 and "JOIN ledger_account" in card_reads[0]
        ledger = [s for s in seen if "ledger_" in s]
        assert ledger[0] == card_reads[0]
        assert not any(s.startswith("SELECT ledger_account.id") for s in seen)


def test_the_same_key_again_replays(member_card: Any) -> None:
    _, card = member_card()
    load_value(card, 10000, idempotency_key="load", actor="t")
    with frozen(THURSDAY):
        first = _pay(card.number, 1000, "same")
        again = _pay(card.number, 1000, "same")
    assert again.replayed and again.transaction_id == first.transaction_id
    assert again.balances.stored_value_fen == first.balances.stored_value_fen == 9000


def test_a_card_with_no_accounts_yet_gets_them_on_its_first_checkout(
    ledger_rules: Any, make_card: Any
) -> None:
    card = make_card("stored_value", credit_limit_fen=5000)
    with frozen(THURSDAY):
        result = _pay(card.number, 3000, "first")
    assert result.balances.stored_value_fen == -3000  # on the overdraft, as allowed


def test_a_replaced_cards_number_is_not_found_and_nothing_is_written(member_card: Any) -> None:
    _, card = member_card()
    load_value(card, 10000, idempotency_key="load", actor="t")
    old_number = card.number
    replace_card(card, actor="t")
    db.session.flush()
    before = counts()
    with pytest.raises(NotFound):
        _pay(old_number, 1000, "old")
    assert counts() == before


def test_a_frozen_card_is_refused_by_number_as_by_any_reference(member_card: Any) -> None:
    member, card = member_card()
    load_value(card, 10000, idempotency_key="load", actor="t")
    change_state(card, "freeze", actor="t")
    db.session.flush()
    for ref in (card.number, member.phone):
        with pytest.raises(CardNotActive):
            _pay(ref, 1000, f"frozen-{ref}")


def test_an_unknown_number_is_not_found(ledger_rules: Any) -> None:
    with pytest.raises(NotFound):
        _pay("6200000000000000000", 1000, "nobody")


def test_a_lost_card_is_refused_by_number_and_nothing_is_written(member_card: Any) -> None:
    _, card = member_card()
    load_value(card, 10000, idempotency_key="load", actor="t")
    change_state(card, "report-lost", actor="t")
    db.session.flush()
    db.session.expunge_all()
    before = counts()
    with pytest.raises(CardNotActive) as refused:
        _pay(card.number, 1000, "lost")
    assert refused.value.details["state"] == "lost"
    assert counts() == before


def test_a_wrong_pin_by_number_counts_and_the_right_one_pays(member_card: Any) -> None:
    _, card = member_card()
    load_value(card, 10000, idempotency_key="load", actor="t")
    set_pin(card, "2468")
    number, card_id = card.number, card.id
    db.session.flush()
    db.session.expunge_all()
    store = get_store("SH01")
    with frozen(THURSDAY), pytest.raises(WrongPin):
        checkout_card(number, store, 1000, "stored_value", key="p1", actor="t", pin="0000")
    db.session.flush()
    assert db.session.scalar(select(Card.pin_failures).where(Card.id == card_id)) == 1
    with frozen(THURSDAY):
        paid = checkout_card(number, store, 1000, "stored_value", key="p2", actor="t", pin="2468")
    assert paid.balances.stored_value_fen == 9000


def test_a_medium_of_digits_and_a_phone_find_the_card(member_card: Any) -> None:
    member, card = member_card()
    load_value(card, 10000, idempotency_key="load", actor="t")
    add_medium(card, "ic_uid", "0412345678")
    db.session.flush()
    db.session.expunge_all()
    with frozen(THURSDAY):
        by_medium = _pay("0412345678", 1000, "m1")
        by_phone = _pay(member.phone, 1000, "m2")
        by_number = _pay(f" {card.number} ", 1000, "m3")
    assert (by_medium.balances.stored_value_fen, by_phone.balances.stored_value_fen) == (9000, 8000)
    assert by_number.balances.stored_value_fen == 7000


def test_an_anonymous_gift_card_pays_by_number_but_holds_no_points(
    ledger_rules: Any, make_card: Any
) -> None:
    gift = make_card("gift")
    load_value(gift, 5000, idempotency_key="load", actor="t")
    number = gift.number
    db.session.flush()
    db.session.expunge_all()
    store = get_store("SH01")
    with frozen(THURSDAY):
        paid = _pay(number, 1500, "g1")
        with pytest.raises(InvalidRequest):
            checkout_card(number, store, 1000, "points", key="g2", actor="t")
    assert (paid.charged_fen, paid.points_earned, paid.balances.stored_value_fen) == (1500, 0, 3500)
