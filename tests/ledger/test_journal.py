"""The journal's guarantees: posting rules, lots, the database's invariants, ``ledger check``."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from ledger_support import THURSDAY, counts, lots, refused
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from app.clock import frozen
from app.db import db
from app.errors import IdempotencyConflict, InsufficientFunds, InvalidRequest
from app.ledger import journal
from app.ledger.balances import card_balances, member_balances, next_expiry, points_summary
from app.ledger.check import run_check
from app.ledger.journal import Entry


def gift(card: Any, points: int, key: str, expires_on: dt.date | None) -> Any:
    return journal.credit_points(card, points, kind="gift", key=key, expires_on=expires_on)


def test_debits_use_the_lots_expiring_first_and_record_them(member_card: Any) -> None:
    _, card = member_card()
    gift(card, 100, "a", None)
    gift(card, 50, "b", dt.date(2027, 6, 30))
    gift(card, 30, "c", dt.date(2027, 1, 31))
    spent = journal.debit_points(card, 120, kind="redemption", key="d")
    card_line = next(p for p in spent.lines if p.card_id == card.id)
    assert [amount for _, amount in card_line.lot_uses] == [30, 50, 40]
    assert journal.lot_uses_of(spent.id) == card_line.lot_uses
    assert lots(card.id) == [
        (100, 60, None),
        (50, 0, dt.date(2027, 6, 30)),
        (30, 0, dt.date(2027, 1, 31)),
    ]
    assert card_balances(card.id).points == 60
    assert run_check().ok


def test_replay_and_conflict(member_card: Any) -> None:
    _, card = member_card()
    first = gift(card, 10, "k", None)
    before = counts()
    again = gift(card, 10, "k", None)
    assert (again.replayed, again.id) == (True, first.id)
    assert counts() == before
    with pytest.raises(IdempotencyConflict):
        gift(card, 11, "k", None)


@pytest.mark.parametrize(
    "entries",
    [
        [Entry("points", 5, card_id=1), Entry("points", -4, system="issued")],
        [Entry("points", 0, card_id=1), Entry("points", 0, system="issued")],
        [Entry("gold", 5, card_id=1), Entry("gold", -5, system="issued")],
        [Entry("points", 5), Entry("points", -5, system="issued")],
        [Entry("visits", 5, card_id=1), Entry("points", -5, system="issued")],
    ],
    ids=["unbalanced", "zero", "unknown-asset", "no-account", "mixed-assets"],
)
def test_malformed_postings_are_refused(member_card: Any, entries: list[Entry]) -> None:
    member_card()
    refused(InvalidRequest, journal.post, "adjustment", "bad", entries)


def test_debit_beyond_the_balance_is_refused(member_card: Any) -> None:
    _, card = member_card()
    gift(card, 10, "a", None)
    error = refused(InsufficientFunds, journal.debit_points, card, 11, kind="redemption", key="d")
    assert error.details == {"asset": "points", "needed": 11, "available": 10}


def test_next_expiry(member_card: Any) -> None:
    member, card = member_card()
    with frozen(THURSDAY):
        assert next_expiry(member.id) is None
        gift(card, 100, "a", dt.date(2027, 12, 31))
        gift(card, 40, "b", dt.date(2027, 12, 31))
        gift(card, 10, "c", None)
        assert next_expiry(member.id) == (140, dt.date(2027, 12, 31))


def test_points_summary_is_balances_and_next_expiry_in_one_read(
    member_card: Any, make_card: Any
) -> None:
    member, card = member_card()
    with frozen(THURSDAY):
        assert points_summary(member.id) == (member_balances(member.id), None)
        gift(card, 30, "past", dt.date(2020, 1, 31))  # already past: never "next"
        gift(card, 100, "a", dt.date(2028, 6, 30))
        gift(card, 40, "b", dt.date(2027, 12, 31))
        gift(card, 10, "c", None)
        second = make_card("points", member=member)
        gift(second, 5, "d", dt.date(2027, 12, 31))
        summary = points_summary(member.id)
        assert summary == (member_balances(member.id), next_expiry(member.id))
        assert summary[0].points == 185
        assert summary[1] == (45, dt.date(2027, 12, 31))


# --- what the database enforces -------------------------------------------------------


def raw(sql: str, **params: Any) -> None:
    with db.session.begin_nested():
        db.session.execute(text(sql), params)


def _txn_and_account(member_card: Any) -> tuple[int, int]:
    _, card = member_card()
    posting = gift(card, 10, "a", None)
    return posting.id, next(p.account_id for p in posting.lines if p.card_id == card.id)


def test_lines_cannot_be_changed(member_card: Any) -> None:
    txn_id, _account_id = _txn_and_account(member_card)
    with pytest.raises(DBAPIError, match="append-only"):
        raw("UPDATE ledger_line SET amount = 1000 WHERE transaction_id = :t", t=txn_id)
    with pytest.raises(DBAPIError, match="append-only"):
        raw("UPDATE ledger_transaction SET amount_fen = 1 WHERE id = :t", t=txn_id)


def test_a_line_must_match_its_accounts_asset_and_be_nonzero(member_card: Any) -> None:
    txn_id, account_id = _txn_and_account(member_card)
    insert = (
        "INSERT INTO ledger_line (transaction_id, account_id, asset, amount) "
        "VALUES (:t, :a, :asset, :amount)"
    )
    with pytest.raises(DBAPIError):
        raw(insert, t=txn_id, a=account_id, asset="visits", amount=1)
    with pytest.raises(DBAPIError):
        raw(insert, t=txn_id, a=account_id, asset="points", amount=0)


def test_a_card_balance_cannot_go_negative_in_the_database(member_card: Any) -> None:
    _, account_id = _txn_and_account(member_card)
    with pytest.raises(DBAPIError):
        raw("UPDATE ledger_account SET balance = -1 WHERE id = :a", a=account_id)


@pytest.mark.postgresql_only
def test_postgresql_refuses_an_unbalanced_transaction_at_commit(app: Any, member_card: Any) -> None:
    txn_id, account_id = _txn_and_account(member_card)
    with pytest.raises(DBAPIError, match="does not balance"), db.session.begin_nested():
        db.session.execute(
            text(
                "INSERT INTO ledger_line (transaction_id, account_id, asset, amount) "
                "VALUES (:t, :a, 'points', 5)"
            ),
            {"t": txn_id, "a": account_id},
        )
        # What COMMIT would do: run the deferred check now.
        db.session.execute(text("SET CONSTRAINTS ledger_line_zero_sum IMMEDIATE"))


@pytest.mark.postgresql_only
def test_postgresql_refuses_deleting_some_lines(app: Any, member_card: Any) -> None:
    txn_id, _ = _txn_and_account(member_card)
    with pytest.raises(DBAPIError, match="append-only"):
        raw("DELETE FROM ledger_line WHERE transaction_id = :t AND amount < 0", t=txn_id)


# --- laoyou ledger check ------------------------------------------------------------------


def test_ledger_check_is_clean_then_finds_a_corrupted_balance(
    runner: Any, member_card: Any
) -> None:
    _, card = member_card()
    gift(card, 100, "a", None)
    journal.debit_points(card, 30, kind="redemption", key="b")
    result = runner.invoke(args=["ledger", "check"])
    assert result.exit_code == 0, result.output
    assert "problem" not in result.output and result.output.strip().endswith(": ok")

    db.session.execute(
        text(
            "UPDATE ledger_account SET balance = balance + 5 "
            "WHERE card_id = :c AND asset = 'points'"
        ),
        {"c": card.id},
    )
    db.session.flush()
    result = runner.invoke(args=["ledger", "check"])
    assert result.exit_code == 1
    assert "cached balance 75, lines sum to 70" in result.output
    assert "points balance 75, its lots hold 70" in result.output
    assert "2 problem(s)" in result.output


def test_ledger_check_finds_a_lot_out_of_step(runner: Any, member_card: Any) -> None:
    _, card = member_card()
    gift(card, 100, "a", None)
    db.session.execute(text("UPDATE points_lot SET remaining = 90"))
    db.session.flush()
    result = runner.invoke(args=["ledger", "check"])
    assert result.exit_code == 1
    assert "100 less uses 0 is not its remaining 90" in result.output


def test_ledger_expire_command(runner: Any, member_card: Any) -> None:
    _, card = member_card()
    gift(card, 100, "a", dt.date(2027, 12, 31))
    gift(card, 5, "b", None)
    db.session.flush()
    result = runner.invoke(args=["ledger", "expire", "--as-of", "2028-01-01"])
    assert result.exit_code == 0, result.output
    assert "expired 100 points in 1 lots on 1 cards as of 2028-01-01" in result.output
    assert card_balances(card.id).points == 5
    again = runner.invoke(args=["ledger", "expire", "--as-of", "2028-01-01"])
    assert "expired 0 points" in again.output
    bad = runner.invoke(args=["ledger", "expire", "--as-of", "01/01/2028"])
    assert bad.exit_code == 2
