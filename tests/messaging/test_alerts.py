"""Alerts from ledger and level signals: text, thresholds, switches, and the transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import select

from app.db import db, unit_of_work
from app.ledger.balances import Balances
from app.members.services import alert_preferences, set_alert_preference
from app.messaging.models import OutboxMessage
from app.signals import level_changed, transaction_posted

#: 10:03 in Shanghai.
POSTED_AT = dt.datetime(2026, 11, 23, 2, 3, tzinfo=dt.UTC)
_ids = iter(range(1000, 100000))


def _post(
    member: Any,
    kind: str = "checkout",
    *,
    amount_fen: int = 1250,
    points_delta: int = 12,
    stored_value_fen: int = 8750,
    points: int = 345,
    pay_with: str = "stored_value",
    store: Any = None,
) -> None:
    """What the ledger sends after a posting."""
    from app.cards.services import member_cards

    transaction = SimpleNamespace(
        id=next(_ids), kind=kind, created_at=POSTED_AT, details={"pay_with": pay_with}
    )
    transaction_posted.send(
        transaction,
        kind=kind,
        card=member_cards(member)[0] if member is not None else None,
        member=member,
        amount_fen=amount_fen,
        points_delta=points_delta,
        balances=Balances(points=points, stored_value_fen=stored_value_fen),
        store=store,
    )


def _alerts() -> list[OutboxMessage]:
    return list(db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


@pytest.fixture
def member(make_member: Callable[..., Any]) -> Any:
    return make_member("+8613800138000", language="en")


def test_checkout_alert_reads_like_a_bank_card(
    app: Flask, member: Any, make_store: Callable[..., Any]
) -> None:
    store = make_store("SH02", "Jing'an Store")
    _post(member, store=store)
    [alert] = _alerts()
    last4 = alert.body.split("*")[1][:4]
    assert alert.body == (
        f"Card *{last4}: spent 12.50 yuan at Jing'an Store, 11-23 10:03. "
        "Balance 87.50 yuan. Points +12 (total 345)."
    )
    assert (alert.address, alert.kind, alert.alert_type, alert.language) == (
        "+8613800138000",
        "alert",
        "transaction",
        "en",
    )
    assert alert.member_id == member.id


def test_recharge_and_refund_alerts(app: Flask, member: Any) -> None:
    _post(member, "recharge", amount_fen=50000, points_delta=0, stored_value_fen=55000)
    _post(member, "refund", amount_fen=600, points_delta=-6, stored_value_fen=55600, points=339)
    recharge, refund = (a.body for a in _alerts())
    assert "recharged 500.00 yuan" in recharge and "Balance 550.00 yuan." in recharge
    assert "refund of 6.00 yuan" in refund and "Points -6 (total 339)" in refund


def test_other_postings_and_anonymous_cards_send_nothing(app: Flask, member: Any) -> None:
    _post(member, "expiry")
    _post(member, "adjustment")
    _post(None)
    assert _alerts() == []


def test_a_replayed_signal_for_one_transaction_queues_one_alert(app: Flask, member: Any) -> None:
    from app.cards.services import member_cards

    transaction = SimpleNamespace(id=424242, created_at=POSTED_AT, details={})
    for _ in range(2):
        transaction_posted.send(
            transaction,
            kind="checkout",
            card=member_cards(member)[0],
            member=member,
            amount_fen=100,
            points_delta=1,
            balances=Balances(points=1, stored_value_fen=9900),
            store=None,
        )
    assert len(_alerts()) == 1


@pytest.mark.parametrize(
    ("after", "amount", "pay_with", "expected"),
    [
        (1500, 1000, "stored_value", True),  # 25.00 → 15.00 crosses 20.00
        (2000, 1000, "stored_value", False),  # lands exactly on the threshold
        (1500, 100, "stored_value", False),  # was already under
        (1500, 1000, "cash", False),  # stored value untouched
    ],
)
def test_low_balance_alert_once_when_crossing_the_threshold(
    app: Flask, member: Any, after: int, amount: int, pay_with: str, expected: bool
) -> None:
    _post(member, amount_fen=amount, stored_value_fen=after, pay_with=pay_with)
    low = [a for a in _alerts() if a.alert_type == "low_balance"]
    assert bool(low) is expected
    if expected:
        assert "your balance is 15.00 yuan, under 20.00 yuan" in low[0].body


def test_low_balance_threshold_is_a_setting(app: Flask, member: Any) -> None:
    app.config["LOW_BALANCE_ALERT_FEN"] = 10000
    _post(member, amount_fen=2000, stored_value_fen=9000)
    assert [a.alert_type for a in _alerts()] == ["transaction", "low_balance"]


def test_level_upgrade_alert_but_not_downgrade(
    app: Flask, member: Any, make_level: Callable[..., Any]
) -> None:
    silver, gold = make_level("Silver", 1), make_level("Gold", 2)
    level_changed.send(member, old_level=silver, new_level=gold, transaction_id=7, reason="upgrade")
    level_changed.send(member, old_level=gold, new_level=silver, transaction_id=8, reason="refund")
    [alert] = _alerts()
    assert alert.alert_type == "level"
    assert alert.body.startswith("Congratulations! You are now a Gold member.")


def test_level_upgrade_alert_names_the_level_in_the_members_language(
    app: Flask, member: Any, make_level: Callable[..., Any]
) -> None:
    silver, gold = make_level("银卡", 1), make_level("金卡", 2)
    gold.name_en = "Gold"
    member.language = "en"
    level_changed.send(member, old_level=silver, new_level=gold, transaction_id=7, reason="upgrade")
    [alert] = _alerts()
    assert alert.body.startswith("Congratulations! You are now a Gold member.")


def test_member_switches_an_alert_type_off(app: Flask, member: Any) -> None:
    set_alert_preference(member, "transaction", False)
    assert alert_preferences(member) == {
        "transaction": False,
        "low_balance": True,
        "level": True,
        "points_expiring": True,
    }
    _post(member, amount_fen=1000, stored_value_fen=1500)
    assert [a.alert_type for a in _alerts()] == ["low_balance"]
    set_alert_preference(member, "transaction", True)
    _post(member)
    assert [a.alert_type for a in _alerts()] == ["low_balance", "transaction"]


def test_unknown_alert_type_is_refused(app: Flask, member: Any) -> None:
    from app.errors import InvalidRequest

    with pytest.raises(InvalidRequest):
        set_alert_preference(member, "weather", False)


def test_admin_disables_an_alert_type_for_the_programme(
    app: Flask, member: Any, runner: FlaskCliRunner
) -> None:
    result = runner.invoke(args=["alerts", "disable", "transaction"])
    assert result.exit_code == 0, result.output
    _post(member)
    assert _alerts() == []
    listing = runner.invoke(args=["alerts", "list"])
    lines = [line.split() for line in listing.output.splitlines()]
    assert ["transaction", "off"] in lines and ["level", "on"] in lines
    assert ["points_expiring", "on"] in lines
    runner.invoke(args=["alerts", "enable", "transaction"])
    _post(member)
    assert len(_alerts()) == 1
    bad = runner.invoke(args=["alerts", "disable", "weather"])
    assert bad.exit_code == 2


def test_alert_rolls_back_with_the_posting(app: Flask, member: Any) -> None:
    db.session.commit()
    with pytest.raises(RuntimeError), unit_of_work():
        _post(member)
        assert len(_alerts()) == 1
        raise RuntimeError("the posting failed after the signal")
    assert _alerts() == []


def test_alert_commits_with_the_posting(app: Flask, member: Any) -> None:
    with unit_of_work():
        _post(member)
    db.session.expire_all()
    assert len(_alerts()) == 1


def test_alert_in_the_members_language(app: Flask, make_member: Callable[..., Any]) -> None:
    member = make_member("+8613900139000", language="zh-Hans")
    _post(member)
    [alert] = _alerts()
    assert alert.language == "zh-Hans"
    assert "12.50" in alert.body and "87.50" in alert.body
