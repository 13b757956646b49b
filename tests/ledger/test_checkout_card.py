"""``checkout_card``: the API's checkout, from the card reference the POS sends.

The card is found through ``app.cards`` (a number, a medium or the holder's phone), then
the ledger takes its own locking read of the card's accounts: every reference gives the
same result.
"""

from __future__ import annotations

from typing import Any

import pytest
from ledger_support import THURSDAY, counts
from sqlalchemy import event

from app.cards.services import change_state, replace_card
from app.clock import frozen
from app.db import db
from app.db.prepared import observed
from app.errors import CardNotActive, NotFound
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
    for statements in (seen, seen_phone):
        card_reads = [s for s in statements if "FROM card" in s]
        # The card lookup reads no ledger table; the ledger's locking read comes after it.
        assert card_reads and not any("ledger_account" in s for s in card_reads)
        locking = [s for s in statements if s.startswith("SELECT ledger_account.id")]
        assert len(locking) == 1
        assert statements.index(card_reads[0]) < statements.index(locking[0])


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
