"""Alerts from the real ledger through the API: one commit carries posting and alert."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from app.cards.services import member_cards
from app.db import db
from app.messaging.models import OutboxMessage


def _alerts() -> list[OutboxMessage]:
    db.session.expire_all()
    return list(db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def test_recharge_and_checkout_through_the_api_queue_alerts(
    api: Any, make_member: Callable[..., Any]
) -> None:
    member = make_member("+8613800138000", language="en")
    card = member_cards(member)[0]
    recharge = api.post(
        f"/api/v1/cards/{card.number}/recharge",
        json={"amount_fen": 5000, "store": "SH01"},
        headers={"Idempotency-Key": "r1"},
    )
    assert recharge.status_code == 201, recharge.get_json()
    checkout = api.post(
        "/api/v1/checkout",
        json={"card": card.number, "store": "SH01", "amount_fen": 4000, "pay_with": "stored_value"},
        headers={"Idempotency-Key": "c1"},
    )
    assert checkout.status_code == 201, checkout.get_json()
    charged = checkout.get_json()["charged_fen"]
    after = checkout.get_json()["balances"]["stored_value_fen"]
    alerts = _alerts()
    assert [a.alert_type for a in alerts] == ["transaction", "transaction", "low_balance"]
    assert "recharged 50.00 yuan" in alerts[0].body
    assert f"spent {charged // 100}.{charged % 100:02d} yuan" in alerts[1].body
    assert f"Balance {after // 100}.{after % 100:02d} yuan" in alerts[1].body
    assert all(a.address == "+8613800138000" and a.status == "queued" for a in alerts)


def test_a_replayed_posting_queues_no_second_alert(
    api: Any, make_member: Callable[..., Any]
) -> None:
    card = member_cards(make_member("+8613800138001"))[0]
    for _ in range(2):
        response = api.post(
            f"/api/v1/cards/{card.number}/recharge",
            json={"amount_fen": 5000, "store": "SH01"},
            headers={"Idempotency-Key": "same"},
        )
        assert response.status_code == 201
    assert len(_alerts()) == 1


def test_a_refused_checkout_queues_nothing(api: Any, make_member: Callable[..., Any]) -> None:
    card = member_cards(make_member("+8613800138002"))[0]
    response = api.post(
        "/api/v1/checkout",
        json={"card": card.number, "store": "SH01", "amount_fen": 4000, "pay_with": "stored_value"},
        headers={"Idempotency-Key": "c2"},
    )
    assert response.status_code == 409, response.get_json()
    assert response.get_json()["error"]["code"] == "insufficient_funds"
    assert _alerts() == []


def test_a_count_card_visit_alert_counts_visits_not_money(
    api: Any, make_member: Callable[..., Any], make_card: Callable[..., Any]
) -> None:
    from app.ledger.operations import load_value

    member = make_member("+8613800138002", language="zh-Hans")
    card = make_card("count", member=member)
    load_value(card, 0, visits=10, idempotency_key="load-visits", actor="test")
    db.session.commit()
    response = api.post(
        "/api/v1/checkout",
        json={"card": card.number, "store": "SH01", "amount_fen": 8800, "pay_with": "visits"},
        headers={"Idempotency-Key": "visit-1"},
    )
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["balances"]["visits"] == 9
    body = _alerts()[-1].body
    assert f"您尾号 {card.number[-4:]} 的次卡于" in body
    assert "使用 1 次，剩余 9 次。" in body
    assert "元" not in body


def test_a_split_tender_that_empties_the_card_alerts_the_low_balance(
    api: Any, make_member: Callable[..., Any]
) -> None:
    card = member_cards(make_member("+8613800138009", language="en"))[0]
    recharge = api.post(
        f"/api/v1/cards/{card.number}/recharge",
        json={"amount_fen": 5000, "store": "SH01"},
        headers={"Idempotency-Key": "r1"},
    )
    assert recharge.status_code == 201, recharge.get_json()
    checkout = api.post(
        "/api/v1/checkout",
        json={
            "card": card.number,
            "store": "SH01",
            "amount_fen": 8000,
            "pay_with": "cash",
            "stored_value_fen": 5000,
        },
        headers={"Idempotency-Key": "c1"},
    )
    assert checkout.status_code == 201, checkout.get_json()
    assert checkout.get_json()["balances"]["stored_value_fen"] == 0
    alerts = _alerts()
    assert [a.alert_type for a in alerts] == ["transaction", "transaction", "low_balance"]
    assert "Balance 0.00 yuan" in alerts[1].body
