"""Worked examples an accountant can check by hand, through the service layer.

Rules (ledger_support.RULES): 1 point per yuan charged, Wednesday is a 1.5x
member day, Silver pays 95%, recharge 500 yuan get 50, points expire at the
end of the year after they were earned, 100 points pay 1 yuan.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from ledger_support import THURSDAY, WEDNESDAY, card_lines, counts, lots, refused

from app.cards.services import change_state, issue_card, replace_card, set_pin
from app.clock import frozen
from app.db import db
from app.errors import (
    CardNotActive,
    IdempotencyConflict,
    InsufficientFunds,
    NotRechargeable,
    NotRefundable,
    OutsideValidity,
    RefundExceedsPurchase,
    WrongPin,
)
from app.ledger import journal
from app.ledger.balances import card_balances, member_balances, next_expiry
from app.ledger.check import run_check
from app.ledger.expiry import expire_lots
from app.ledger.operations import checkout, load_value, recharge, refund
from app.ledger.rules.levels import growth_of
from app.signals import transaction_posted
from app.stores.services import get_store


def sh01() -> Any:
    return get_store("SH01")


def _recharge(card: Any, amount_fen: int, key: str) -> Any:
    return recharge(card, sh01(), amount_fen, key=key, actor="test")


def _checkout(card: Any, amount_fen: int, pay_with: str, key: str, **kw: Any) -> Any:
    return checkout(card, sh01(), amount_fen, pay_with, key=key, actor="test", **kw)


def assert_clean() -> None:
    report = run_check()
    assert report.problems == []


def test_recharge_500_gets_50_bonus_kept_apart(member_card: Any) -> None:
    _, card = member_card()
    with frozen(THURSDAY):
        result = _recharge(card, 50000, "r1")
    assert result.bonus_fen == 5000
    assert result.balances.stored_value_fen == 55000
    assert card_lines(result.transaction_id) == {
        "stored_value_paid": 50000,
        "stored_value_bonus": 5000,
    }
    assert_clean()


def test_buy_120_at_95_percent_on_member_day_then_refund_half_twice(member_card: Any) -> None:
    member, card = member_card("Silver")
    with frozen(WEDNESDAY):
        _recharge(card, 50000, "r1")
        bought = _checkout(card, 12000, "stored_value", "c1")
    # 120.00 list, 5% off = 6.00 discount, 114.00 charged;
    # 114 yuan x 1 point x 1.5 (member day) = 171 points.
    assert (bought.discount_fen, bought.charged_fen, bought.points_earned) == (600, 11400, 171)
    # Paid 500 and bonus 50 are spent pro rata: bonus floor(11400 x 50/550) = 1036.
    assert card_lines(bought.transaction_id) == {
        "stored_value_paid": -10364,
        "stored_value_bonus": -1036,
        "points": 171,
    }
    assert bought.balances.as_dict() == {"points": 171, "stored_value_fen": 43600, "visits": 0}
    assert lots(card.id) == [(171, 171, dt.date(2027, 12, 31))]
    assert growth_of(member) == 114

    with frozen(THURSDAY):
        half = refund(bought.transaction_id, 5700, key="f1", actor="test")
    # Half the money back where it came from (bonus floor(1036/2) = 518), half the points
    # taken back, rounded down: floor(171/2) = 85.
    assert card_lines(half.transaction_id) == {
        "stored_value_paid": 5182,
        "stored_value_bonus": 518,
        "points": -85,
    }
    assert half.balances.as_dict() == {"points": 86, "stored_value_fen": 49300, "visits": 0}
    assert growth_of(member) == 57

    with frozen(THURSDAY):
        rest = refund(bought.transaction_id, key="f2", actor="test")
    # The last refund returns exactly what is left: nothing kept, nothing taken twice.
    assert card_lines(rest.transaction_id) == {
        "stored_value_paid": 5182,
        "stored_value_bonus": 518,
        "points": -86,
    }
    assert card_balances(card.id).as_dict() == {"points": 0, "stored_value_fen": 55000, "visits": 0}
    assert growth_of(member) == 0
    with pytest.raises(RefundExceedsPurchase):
        refund(bought.transaction_id, 1, key="f3", actor="test")
    with pytest.raises(NotRefundable):
        refund(rest.transaction_id, key="f4", actor="test")
    assert_clean()


def test_uneven_partial_refunds_never_take_back_more_than_earned(member_card: Any) -> None:
    _, card = member_card()
    with frozen(THURSDAY):
        _recharge(card, 1000, "r1")
        bought = _checkout(card, 999, "stored_value", "c1")  # 9.99 yuan: 9 points
    assert bought.points_earned == 9
    taken = []
    for n, amount in enumerate((333, 333, 333)):
        r = refund(bought.transaction_id, amount, key=f"f{n}", actor="test")
        taken.append(-card_lines(r.transaction_id).get("points", 0))
    assert taken == [3, 3, 3]
    assert card_balances(card.id).points == 0
    assert_clean()


def test_refund_gives_back_points_spent_as_offset(member_card: Any) -> None:
    _, card = member_card()
    with frozen(THURSDAY):
        _recharge(card, 20000, "r1")
        first = _checkout(card, 10000, "stored_value", "c1")  # earns 100 points
        second = _checkout(card, 5000, "stored_value", "c2", points_offset=100)
    # 100 points pay 1 yuan: 49.00 charged, 49 points earned.
    assert (second.charged_fen, second.points_earned) == (4900, 49)
    assert card_lines(second.transaction_id)["points"] == -100 + 49
    assert first.points_earned == 100
    assert card_balances(card.id).points == 49
    refund(second.transaction_id, key="f1", actor="test")
    # The 100 points come back (in a lot expiring like the one they came from), the 49 go.
    assert card_balances(card.id).points == 100
    assert sorted(lot[2] for lot in lots(card.id) if lot[1]) == [dt.date(2027, 12, 31)]
    assert_clean()


def test_refund_refused_when_the_earned_points_are_spent(member_card: Any) -> None:
    _, card = member_card()
    with frozen(THURSDAY):
        bought = _checkout(card, 20000, "cash", "c1")  # 200 points
        _checkout(card, 5000, "cash", "c2", points_offset=200)  # spends them
    error = refused(InsufficientFunds, refund, bought.transaction_id, key="f1", actor="test")
    assert error.details["asset"] == "points"


def test_expire_a_lot_and_rerun_changes_nothing(member_card: Any) -> None:
    member, card = member_card()
    with frozen(THURSDAY):
        _checkout(card, 30000, "cash", "c1")  # 300 points, last valid day 2027-12-31
    with frozen(dt.datetime(2027, 3, 1, 12, 0, tzinfo=dt.UTC)):
        _checkout(card, 5000, "cash", "c2")  # 50 points, valid through 2028-12-31
        paid_in_points = _checkout(card, 100, "points", "c3")  # 100 from the oldest lot
    assert next_expiry(member.id) == (200, dt.date(2027, 12, 31))
    assert expire_lots(dt.date(2027, 12, 31)).points == 0  # still valid on its last day
    report = expire_lots(dt.date(2028, 1, 1))
    assert (report.cards, report.lots, report.points) == (1, 1, 200)
    assert card_balances(card.id).points == 50
    before = counts()
    assert expire_lots(dt.date(2028, 1, 1)).points == 0
    assert counts() == before
    # A refund gives back the 100 points with their old expiry: expired already. A rerun
    # for the same date still changes nothing; the next day's run takes them.
    refund(paid_in_points.transaction_id, key="f1", actor="test")
    before = counts()
    again = expire_lots(dt.date(2028, 1, 1))
    assert (again.points, again.already_done) == (0, 1)
    assert counts() == before
    assert expire_lots(dt.date(2028, 1, 2)).points == 100
    assert card_balances(card.id).points == 50
    assert_clean()


def test_overdraft_to_the_limit_and_not_beyond(ledger_rules: Any, make_card: Any) -> None:
    card = make_card("stored_value", credit_limit_fen=10000)
    with frozen(THURSDAY):
        _recharge(card, 5000, "r1")
        ok = _checkout(card, 15000, "stored_value", "c1")
        assert ok.balances.stored_value_fen == -10000
        error = refused(InsufficientFunds, _checkout, card, 1, "stored_value", "c2")
    assert error.details == {"asset": "stored_value_paid", "needed": 1, "available": 0}
    with frozen(THURSDAY):
        back = _recharge(card, 10000, "r2")  # pays off the overdraft first
    assert back.balances.stored_value_fen == 0
    assert_clean()


def test_no_overdraft_without_a_credit_limit(member_card: Any) -> None:
    _, card = member_card()
    with frozen(THURSDAY):
        _recharge(card, 1000, "r1")
        refused(InsufficientFunds, _checkout, card, 1001, "stored_value", "c1")
    assert card_balances(card.id).stored_value_fen == 1000


def test_count_card_visits(ledger_rules: Any, make_card: Any) -> None:
    card = make_card("count")
    load_value(card, 0, visits=3, idempotency_key="load-1", actor="test")
    with frozen(THURSDAY):
        one = _checkout(card, 5000, "visits", "v1")
        two = _checkout(
            card,
            10000,
            "visits",
            "v2",
            items=[{"sku": "cut", "category": "hair", "amount_fen": 10000, "quantity": 2}],
        )
        assert (one.balances.visits, two.balances.visits) == (2, 0)
        assert one.points_earned == 0  # paid with visits: no points
        refused(InsufficientFunds, _checkout, card, 5000, "visits", "v3")
    refund(two.transaction_id, key="f1", actor="test")
    assert card_balances(card.id).visits == 2
    assert_clean()


def test_period_card_outside_its_window(ledger_rules: Any, make_card: Any) -> None:
    card = make_card("period", valid_from=dt.date(2026, 12, 1), period="month")
    with frozen(THURSDAY):
        refused(OutsideValidity, _checkout, card, 1000, "cash", "p1")
    with frozen(dt.datetime(2026, 12, 15, 4, tzinfo=dt.UTC)):
        assert _checkout(card, 1000, "cash", "p2").charged_fen == 1000
    with frozen(dt.datetime(2027, 1, 1, 4, tzinfo=dt.UTC)), pytest.raises(OutsideValidity):
        _checkout(card, 1000, "cash", "p3")


def test_gift_card_spent_down_and_recharge_refused(ledger_rules: Any, make_card: Any) -> None:
    card = make_card("gift")
    load_value(card, 10000, idempotency_key="gift-1", actor="test")
    with frozen(THURSDAY):
        _checkout(card, 6000, "stored_value", "g1")
        _checkout(card, 4000, "stored_value", "g2")
        assert card_balances(card.id).stored_value_fen == 0
        refused(InsufficientFunds, _checkout, card, 1, "stored_value", "g3")
        refused(NotRechargeable, _recharge, card, 10000, "g4")
    assert_clean()


def test_frozen_card_refused_and_nothing_written(member_card: Any) -> None:
    _, card = member_card()
    with frozen(THURSDAY):
        _recharge(card, 5000, "r1")
    change_state(card, "freeze")
    with frozen(THURSDAY):
        refused(CardNotActive, _checkout, card, 100, "stored_value", "c1")


def test_wrong_pin_refused(member_card: Any) -> None:
    _, card = member_card()
    set_pin(card, "2468")
    with frozen(THURSDAY):
        _recharge(card, 5000, "r1")
        refused(WrongPin, _checkout, card, 100, "stored_value", "c1", pin="1111")
        assert _checkout(card, 100, "stored_value", "c2", pin="2468").charged_fen == 100


def test_same_key_replays_and_other_request_conflicts(member_card: Any) -> None:
    _, card = member_card()
    with frozen(THURSDAY):
        _recharge(card, 5000, "r1")
        first = _checkout(card, 1000, "stored_value", "same")
        before = counts()
        again = _checkout(card, 1000, "stored_value", "same")
        assert again.replayed and again.transaction_id == first.transaction_id
        assert again.charged_fen == first.charged_fen
        assert counts() == before
        with pytest.raises(IdempotencyConflict):
            _checkout(card, 2000, "stored_value", "same")
    assert card_balances(card.id).stored_value_fen == 4000


def test_replacement_moves_balances_and_lots(member_card: Any) -> None:
    member, card = member_card()
    with frozen(THURSDAY):
        _recharge(card, 50000, "r1")
        bought = _checkout(card, 10000, "stored_value", "c1")
    before = member_balances(member.id)
    new = replace_card(card)
    assert card_balances(card.id).as_dict() == {"points": 0, "stored_value_fen": 0, "visits": 0}
    assert card_balances(new.id) == before
    assert lots(new.id) == [(100, 100, dt.date(2027, 12, 31))]
    # A refund after the replacement lands on the new card.
    refund(bought.transaction_id, key="f1", actor="test")
    assert card_balances(new.id).as_dict() == {"points": 0, "stored_value_fen": 55000, "visits": 0}
    assert_clean()


def test_transaction_posted_carries_every_kwarg(member_card: Any) -> None:
    member, card = member_card()
    seen: list[dict[str, Any]] = []

    def receiver(sender: Any, **kw: Any) -> None:
        seen.append({"id": sender.id, **kw})

    transaction_posted.connect(receiver)
    try:
        with frozen(THURSDAY):
            _recharge(card, 50000, "r1")
            bought = _checkout(card, 2000, "stored_value", "c1")
    finally:
        transaction_posted.disconnect(receiver)
    last = seen[-1]
    assert last["id"] == bought.transaction_id
    assert (last["kind"], last["card"], last["member"]) == ("checkout", card, member)
    assert (last["amount_fen"], last["points_delta"]) == (2000, 20)
    assert last["balances"] == card_balances(card.id)
    assert last["store"].code == "SH01"


def test_anonymous_gift_card_issued_with_value_by_cli(app: Any, runner: Any, tmp_path: Any) -> None:
    from app.stores.services import create_store

    create_store("SH09", "Store 9", "East")
    db.session.flush()
    out = tmp_path / "cards.csv"
    result = runner.invoke(
        args=[
            "cards", "issue", "--type", "gift", "--count", "3", "--value-cents", "10000",
            "--store", "SH09", "--out", str(out),
        ]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    numbers = [line.split(",")[0] for line in out.read_text().splitlines()[1:]]
    assert len(numbers) == 3
    from app.cards.services import get_card

    for number in numbers:
        assert card_balances(get_card(number).id).stored_value_fen == 10000
    assert_clean()


def test_load_value_is_idempotent(ledger_rules: Any) -> None:
    card = issue_card("gift", store=get_store("SH01"))
    first = load_value(card, 5000, idempotency_key="gift-9", actor="test")
    again = load_value(card, 5000, idempotency_key="gift-9", actor="test")
    assert again.replayed and again.transaction_id == first.transaction_id
    assert card_balances(card.id).stored_value_fen == 5000


def test_a_purchase_cannot_pay_its_offset_with_the_points_it_earns(member_card: Any) -> None:
    _, card = member_card()
    journal.credit_points(card, 299, kind="gift", key="g", expires_on=None)
    with frozen(THURSDAY):
        # 3.00 yuan of points asked, 299 held; the 1 point this purchase earns does not count.
        error = refused(InsufficientFunds, _checkout, card, 400, "cash", "c1", points_offset=300)
    assert error.details == {"asset": "points", "needed": 300, "available": 299}


def test_replacement_moves_an_overdraft_and_visits(ledger_rules: Any, make_card: Any) -> None:
    card = make_card("stored_value", credit_limit_fen=5000)
    load_value(card, 1000, visits=2, idempotency_key="l", actor="test")
    with frozen(THURSDAY):
        _checkout(card, 3000, "stored_value", "c1")  # 20.00 yuan into the overdraft
    new = replace_card(card)
    assert card_balances(new.id).as_dict() == {
        "points": 0,
        "stored_value_fen": -2000,
        "visits": 2,
    }
    assert card_balances(card.id).as_dict() == {"points": 0, "stored_value_fen": 0, "visits": 0}
    with frozen(THURSDAY):  # the debt came along: 30.00 more reaches the 50.00 limit
        refused(InsufficientFunds, _checkout, new, 3001, "stored_value", "c2")
        assert _checkout(new, 3000, "stored_value", "c3").balances.stored_value_fen == -5000
    assert_clean()


def test_a_refund_undoes_the_upgrade_its_purchase_caused(member_card: Any) -> None:
    member, card = member_card("Regular")
    with frozen(THURSDAY):
        bought = _checkout(card, 100000, "cash", "c1")  # 1000 yuan: growth 1000 = Silver
    assert (member.level.name, growth_of(member)) == ("Silver", 1000)
    refund(bought.transaction_id, 1000, key="f1", actor="test")  # 10 yuan back: 990
    assert (member.level.name, growth_of(member)) == ("Regular", 990)
    assert card_balances(card.id).points == 990
    assert_clean()


def test_a_rules_import_takes_effect_for_the_next_checkout(member_card: Any) -> None:
    """The rules are cached per process by revision; an import is a new revision."""
    import copy

    from ledger_support import RULES

    from app.ledger.rules.io import import_rules

    _, card = member_card()
    with frozen(THURSDAY):
        _recharge(card, 50000, "r1")
        before = _checkout(card, 10000, "stored_value", "c1")
        doubled = copy.deepcopy(RULES)
        doubled["earning"]["points_per_yuan_bp"] = 20000
        import_rules(doubled)
        after = _checkout(card, 10000, "stored_value", "c2")
        import_rules(RULES)
        again = _checkout(card, 10000, "stored_value", "c3")
    assert (before.points_earned, after.points_earned, again.points_earned) == (100, 200, 100)
    assert_clean()
