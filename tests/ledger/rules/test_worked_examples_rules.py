"""A member's month through the API, with the rules of docs/rules.example.json, checkable by hand.

1. Joins (普通会员, stored-value card): sign-up gift 100 points.
2. Recharges 1000 yuan: plan 充1000送120 gives 120 bonus -> 1120.00 stored value.
3. Recharges 500 yuan: plan 充500送50 -> 1670.00.
4. Thursday, buys 1100.00: the card discount (98%) beats the level's (100%): 22.00 off,
   1078.00 charged; 1078 points (1x); growth 1078 crosses 银卡's 1000: upgraded.
5. Wednesday (会员日), buys 120.00 as 银卡: 95% beats 98%: 6.00 off, 114.00 charged;
   114 x 1.5 x 1.2 = 205.2 -> 205 points; growth 1192.
6. Refunds the 1100 purchase: 1078.00 back, 1078 points and 1078 growth taken back;
   growth 114 < 1000, the upgrade it caused is undone: back to 普通会员.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from sqlalchemy import select

from app import clock
from app.cards.services import member_cards
from app.db import db
from app.ledger.rules.io import import_rules
from app.ledger.rules.levels import growth_of, level_history

EXAMPLE = Path(__file__).parents[3] / "docs" / "rules.example.json"
THURSDAY = dt.datetime(2026, 11, 26, 4, tzinfo=dt.UTC)
WEDNESDAY = dt.datetime(2026, 12, 2, 4, tzinfo=dt.UTC)


def test_a_month_of_a_member(app: Any, api: Any, make_store: Any, make_member: Any) -> None:
    for code in ("SH01", "SH02", "BJ01"):
        make_store(code)
    import_rules(json.loads(EXAMPLE.read_text(encoding="utf-8")))
    with clock.frozen(THURSDAY):
        member = make_member(card_type="stored_value")
    card = member_cards(member)[0]
    assert member.level.name == "普通会员"

    def call(path: str, body: dict[str, Any], key: str, at: dt.datetime) -> dict[str, Any]:
        with clock.frozen(at):
            response = api.post(path, json=body, headers={"Idempotency-Key": key})
        assert response.status_code == 201, response.json
        return response.json

    recharge = f"/api/v1/cards/{card.number}/recharge"
    first = call(recharge, {"amount_fen": 100000, "store": "SH01"}, "r1", THURSDAY)
    assert first["bonus_fen"] == 12000
    second = call(recharge, {"amount_fen": 50000, "store": "SH01"}, "r2", THURSDAY)
    assert second["bonus_fen"] == 5000
    assert second["balances"] == {"points": 100, "stored_value_fen": 167000, "visits": 0}

    big = {"card": card.number, "store": "SH01", "amount_fen": 110000, "pay_with": "stored_value"}
    bought = call("/api/v1/checkout", big, "c1", THURSDAY)
    assert (bought["discount_fen"], bought["charged_fen"], bought["points_earned"]) == (
        2200,
        107800,
        1078,
    )
    assert bought["balances"] == {"points": 1178, "stored_value_fen": 59200, "visits": 0}
    db.session.refresh(member)
    assert member.level.name == "银卡"
    assert growth_of(member) == 1078

    small = {"card": card.number, "store": "SH01", "amount_fen": 12000, "pay_with": "stored_value"}
    member_day = call("/api/v1/checkout", small, "c2", WEDNESDAY)
    assert (member_day["discount_fen"], member_day["charged_fen"]) == (600, 11400)
    assert member_day["points_earned"] == 205
    assert member_day["balances"] == {"points": 1383, "stored_value_fen": 47800, "visits": 0}
    assert growth_of(member) == 1192

    refund = call(f"/api/v1/transactions/{bought['transaction_id']}/refund", {}, "f1", WEDNESDAY)
    assert refund["balances"] == {"points": 305, "stored_value_fen": 155600, "visits": 0}
    db.session.refresh(member)
    assert member.level.name == "普通会员"
    assert growth_of(member) == 114
    assert [(r.reason, r.transaction_id) for r in level_history(member)] == [
        ("upgrade", bought["transaction_id"]),
        ("refund", refund["transaction_id"]),
    ]
    from app.ledger.models import Transaction

    applied = db.session.scalar(
        select(Transaction.details).where(Transaction.id == member_day["transaction_id"])
    )["applied"]
    assert applied == ["level_discount:银卡", "level_multiplier:银卡", "period:会员日"]
