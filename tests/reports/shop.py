"""A small chain whose every figure in March 2026 is worked out by hand (see each report's test).

Times are Beijing time (CST, UTC+8), the programme's zone; rules: 1 point per yuan, levels
Regular / Gold, recharge 500 yuan get 50.

=======  =====  ======  ==================  ==================  ===============================
member   store  gender  birthday            joined (CST)        postings (CST)
=======  =====  ======  ==================  ==================  ===============================
A 王芳   SH01   female  1990-03-15 solar    2025-12-01 10:00    03-03 recharge 500.00 (+50.00
                                                                bonus); 03-04 12:00 checkout
                                                                120.00 by stored value (+120 pts)
B 李雷   SH01   male    lunar 1985-01-15    2026-03-02 09:00    03-06 checkout 80.00 cash (+80)
C 张伟   SH02   male    2010-07-01 solar    2026-03-02 23:30    03-10 checkout 300.00 cash
                                                                (+300); 03-12 refund 100.00 (-100)
D =cmd…  BJ01   —       —                   2026-03-05 00:30    —
F 钱七   SH02   —       2000-02-29 solar    2025-11-01 10:00    2025-12-15 12:00 checkout 10.00
                                                                cash (+10)
E 赵敏   BJ01   female  1960-03-31 solar    2026-04-02 10:00    —
G 孙丽   SH02   female  lunar leap 2023-02-10  2025-10-01       —
H 周杰   BJ01   male    lunar 2000-02-30    2025-10-01          —
=======  =====  ======  ==================  ==================  ===============================

A is Gold; the others Regular. C and D join at local times whose UTC date differs (C on
the 2nd at 23:30 CST is 15:30 UTC; D on the 5th at 00:30 CST is the 4th 16:30 UTC).
Cards: A has a period card 03-01..03-20, B one until 04-30, an anonymous gift card of
BJ01 runs until 03-25, and a cancelled period card of C would have ended on 03-10.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from app import clock
from app.cards.services import change_state, issue_card, member_cards
from app.db import db
from app.ledger import operations
from app.ledger.rules.io import import_rules
from app.ledger.rules.levels import set_level
from app.members.models import Level

CST = dt.timezone(dt.timedelta(hours=8))
MARCH = (dt.date(2026, 3, 1), dt.date(2026, 3, 31))

RULES: dict[str, Any] = {
    "version": 1,
    "earning": {"points_per_yuan_bp": 10000},
    "levels": [
        {"name": "Regular", "rank": 1, "discount_bp": 10000, "upgrade_threshold": 0},
        {"name": "Gold", "rank": 2, "discount_bp": 10000, "upgrade_threshold": 1_000_000},
    ],
    "recharge_plans": [{"name": "500+50", "min_amount_fen": 50000, "bonus_fen": 5000}],
    "redemption": {"offset_points_per_yuan": 100, "max_offset_bp": 10000},
}

INJECTION = "=cmd|' /C calc'!A0"


def at(month: int, day: int, hour: int = 12, minute: int = 0, year: int = 2026) -> Any:
    return clock.frozen(dt.datetime(year, month, day, hour, minute, tzinfo=CST))


def build(make_store: Any, make_member: Any) -> dict[str, Any]:
    stores = {
        "SH01": make_store("SH01", "上海一店", "East"),
        "SH02": make_store("SH02", "上海二店", "East"),
        "BJ01": make_store("BJ01", "北京一店", "North"),
    }
    import_rules(RULES)
    db.session.flush()

    def member(key: str, when: Any, **fields: Any) -> Any:
        with when:
            made = make_member(f"+86138000000{key}", **fields)
        return made

    m = {
        "A": member(
            "01",
            at(12, 1, 10, year=2025),
            name="王芳",
            home_store="SH01",
            gender="female",
            birthday="1990-03-15",
            region="上海",
        ),
        "B": member(
            "02",
            at(3, 2, 9),
            name="李雷",
            home_store="SH01",
            gender="male",
            birthday="1985-01-15",
            birthday_calendar="lunar",
            region="上海",
        ),
        "C": member(
            "03",
            at(3, 2, 23, 30),
            name="张伟",
            home_store="SH02",
            gender="male",
            birthday="2010-07-01",
            region="杭州",
        ),
        "D": member("04", at(3, 5, 0, 30), name=INJECTION, home_store="BJ01"),
        "F": member(
            "06", at(11, 1, 10, year=2025), name="钱七", home_store="SH02", birthday="2000-02-29"
        ),
        "E": member(
            "05",
            at(4, 2, 10),
            name="赵敏",
            home_store="BJ01",
            gender="female",
            birthday="1960-03-31",
        ),
        "G": member(
            "07",
            at(10, 1, 10, year=2025),
            name="孙丽",
            home_store="SH02",
            gender="female",
            birthday="2023-02-10",
            birthday_calendar="lunar",
            lunar_leap_month=True,
        ),
        "H": member(
            "08",
            at(10, 1, 10, year=2025),
            name="周杰",
            home_store="BJ01",
            gender="male",
            birthday="2000-02-30",
            birthday_calendar="lunar",
        ),
    }
    gold = db.session.scalar(select(Level).where(Level.name == "Gold"))
    assert gold is not None
    set_level(m["A"], gold)
    card = {k: member_cards(v)[0] for k, v in m.items()}

    with at(12, 15, year=2025):
        operations.checkout(card["F"], stores["SH02"], 1000, "cash", key="f1", actor="test")
    with at(3, 3):
        operations.recharge(card["A"], stores["SH01"], 50000, key="a1", actor="test")
    with at(3, 4):
        operations.checkout(
            card["A"], stores["SH01"], 12000, "stored_value", key="a2", actor="test"
        )
    with at(3, 6):
        operations.checkout(card["B"], stores["SH01"], 8000, "cash", key="b1", actor="test")
    with at(3, 10):
        sale = operations.checkout(card["C"], stores["SH02"], 30000, "cash", key="c1", actor="test")
    with at(3, 12):
        operations.refund(sale.transaction_id, 10000, key="c2", actor="test")

    cards = {
        "A_period": issue_card(
            "period",
            member=m["A"],
            store=stores["SH01"],
            valid_from=dt.date(2026, 3, 1),
            valid_until=dt.date(2026, 3, 20),
        ),
        "B_period": issue_card(
            "period",
            member=m["B"],
            store=stores["SH01"],
            valid_from=dt.date(2026, 3, 1),
            valid_until=dt.date(2026, 4, 30),
        ),
        "gift": issue_card("gift", store=stores["BJ01"], valid_until=dt.date(2026, 3, 25)),
        "C_cancelled": issue_card(
            "period",
            member=m["C"],
            store=stores["SH02"],
            valid_from=dt.date(2026, 3, 1),
            valid_until=dt.date(2026, 3, 10),
        ),
    }
    change_state(cards["C_cancelled"], "cancel", actor="test")
    db.session.flush()
    return {"stores": stores, "members": m, "cards": cards}
