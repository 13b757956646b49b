"""The rules' arithmetic, with numbers an accountant can check by hand.

The rules are docs/rules.example.json: 1 point per yuan; 会员日 every Wednesday
1.5x; 银卡 pays 95% and earns 1.2x; 金卡 pays 90% and earns 1.5x; stored-value
cards pay 98%; the better discount wins; seasonal dishes earn 2x; gift cards
and tobacco neither discount nor earn; BJ01 earns 1.2x; birthday month 2x;
100 points pay 1 yuan, at most 50% of the bill.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from app.db import db
from app.errors import InvalidRequest
from app.ledger.rules.engine import (
    CheckoutQuote,
    points_expiry,
    quote_checkout,
    recharge_bonus,
    round_half_up,
)
from app.ledger.rules.io import import_rules
from app.members.models import Level

EXAMPLE = Path(__file__).parents[3] / "docs" / "rules.example.json"
CST = dt.timezone(dt.timedelta(hours=8))
WEDNESDAY = dt.datetime(2026, 11, 25, 12, 0, tzinfo=CST)  # 会员日
THURSDAY = dt.datetime(2026, 11, 26, 12, 0, tzinfo=CST)


@pytest.fixture
def rules(app: Any, make_store: Any) -> Any:
    """Loads the example rules; call with section overrides to change some."""
    for code in ("SH01", "SH02", "BJ01"):
        make_store(code)

    def load(**sections: Any) -> None:
        doc = json.loads(EXAMPLE.read_text(encoding="utf-8"))
        for name, value in sections.items():
            doc[name] = {**doc[name], **value} if isinstance(value, dict) else value
        import_rules(doc)

    load()
    return load


@pytest.fixture
def member_at(rules: Any, make_member: Any) -> Any:
    def make(level_name: str | None, **fields: Any) -> Any:
        member = make_member(**fields)
        if level_name:
            member.level = db.session.scalar(select(Level).where(Level.name == level_name))
        db.session.flush()
        return member

    return make


def quote(member: Any, amount_fen: int, *, at: dt.datetime = THURSDAY, **kw: Any) -> CheckoutQuote:
    from app.cards.services import member_cards
    from app.stores.services import get_store

    card = kw.pop("card", None) or member_cards(member)[0]
    return quote_checkout(
        card=card,
        member=member,
        store=get_store(kw.pop("store", "SH01")),
        amount_fen=amount_fen,
        items=kw.pop("items", None),
        points_offset=kw.pop("points_offset", None),
        at=at,
    )


def test_worked_example_120_yuan_silver_on_member_day(member_at: Any) -> None:
    # 120.00 at 95% = 6.00 off, 114.00 charged; 114 x 1.5 (会员日) x 1.2 (银卡) = 205.2 -> 205.
    member = member_at("银卡", card_type="points")
    q = quote(member, 12000, at=WEDNESDAY)
    assert (q.discount_fen, q.charged_fen, q.points_offset_fen) == (600, 11400, 0)
    assert q.points_earned == 205
    assert q.growth_earned == 114
    assert q.applied == ("level_discount:银卡", "level_multiplier:银卡", "period:会员日")


def test_the_day_after_the_member_day_earns_only_the_level_multiplier(member_at: Any) -> None:
    q = quote(member_at("银卡", card_type="points"), 12000, at=THURSDAY)
    assert q.points_earned == 136  # 114 x 1.2 = 136.8
    assert "period:会员日" not in q.applied


def test_member_day_is_a_local_day(member_at: Any) -> None:
    # 2026-11-24 17:00 UTC is Tuesday in UTC but already Wednesday 01:00 in Shanghai.
    member = member_at("普通会员", card_type="points")
    at = dt.datetime(2026, 11, 24, 17, 0, tzinfo=dt.UTC)
    assert quote(member, 10000, at=at).points_earned == 150
    assert quote(member, 10000, at=at - dt.timedelta(hours=2)).points_earned == 100


def test_max_combination_takes_the_single_best_multiplier(rules: Any, member_at: Any) -> None:
    rules(earning={"multiplier_combination": "max"})
    q = quote(member_at("银卡", card_type="points"), 12000, at=WEDNESDAY)
    assert q.points_earned == 171  # 114 x max(1.5, 1.2)


def test_best_discount_wins_by_default(member_at: Any) -> None:
    # Stored-value card (98%) for an ordinary member: the card discount applies.
    ordinary = member_at("普通会员", card_type="stored_value")
    q = quote(ordinary, 12000)
    assert (q.discount_fen, q.charged_fen) == (240, 11760)
    assert q.applied[0] == "card_discount:stored_value"
    # 银卡 (95%) on the same card type: the level discount is better, only it applies.
    silver = member_at("银卡", card_type="stored_value")
    q = quote(silver, 12000)
    assert q.discount_fen == 600
    assert "card_discount:stored_value" not in q.applied


def test_multiply_stacking(rules: Any, member_at: Any) -> None:
    rules(discounts={"stacking": "multiply"})
    q = quote(member_at("银卡", card_type="stored_value"), 12000)
    assert q.discount_fen == 828  # 120 x (1 - 0.95 x 0.98) = 8.28
    assert q.applied[:2] == ("level_discount:银卡", "card_discount:stored_value")


@pytest.mark.parametrize(
    ("items", "discount_fen"),
    [
        ([1], 0),  # 0.05 fen
        ([1] * 10, 1),  # 10 fen x 5% = 0.5 fen: half rounds up, customer's favour
        ([1] * 9, 0),  # 0.45 fen
        ([30], 2),  # 1.5 fen
        ([29], 1),  # 1.45 fen
    ],
)
def test_discount_rounds_half_up_once_per_checkout(
    member_at: Any, items: list[int], discount_fen: int
) -> None:
    member = member_at("银卡", card_type="points")
    lines = [{"sku": f"S{n}", "category": "food", "amount_fen": a} for n, a in enumerate(items)]
    q = quote(member, sum(items), items=lines)
    assert q.discount_fen == discount_fen
    assert q.charged_fen == sum(items) - discount_fen


def test_round_half_up() -> None:
    from fractions import Fraction

    assert [round_half_up(Fraction(n, 2)) for n in (1, 3, 5)] == [1, 2, 3]
    assert round_half_up(Fraction(-1, 2)) == -1
    assert round_half_up(Fraction(149, 100)) == 1


def test_excluded_category_pays_full_price_and_earns_nothing(member_at: Any) -> None:
    member = member_at("银卡", card_type="points")
    items = [
        {"sku": "DISH", "category": "food", "amount_fen": 10000, "quantity": 2},
        {"sku": "CIG", "category": "tobacco", "amount_fen": 2000, "quantity": 1},
    ]
    q = quote(member, 12000, items=items)
    assert (q.discount_fen, q.charged_fen) == (500, 11500)
    assert q.points_earned == 114  # only the food's 95.00: 95 x 1.2
    assert q.growth_earned == 115  # growth follows all the money charged


def test_category_multiplier_applies_to_its_own_line(member_at: Any) -> None:
    member = member_at("普通会员", card_type="points")
    items = [
        {"sku": "CRAB", "category": "seasonal", "amount_fen": 5000},
        {"sku": "RICE", "category": "food", "amount_fen": 5000},
    ]
    q = quote(member, 10000, items=items)
    assert q.points_earned == 150  # 50 x 2 + 50
    assert "category:时令菜" in q.applied


def test_store_multiplier(member_at: Any) -> None:
    member = member_at("普通会员", card_type="points")
    assert quote(member, 10000, store="BJ01").points_earned == 120
    assert quote(member, 10000, store="SH01").points_earned == 100


def test_points_offset_pays_whole_yuan_and_earns_on_the_rest(member_at: Any) -> None:
    member = member_at("银卡", card_type="points")
    q = quote(member, 12000, points_offset=2000)
    assert (q.discount_fen, q.points_offset_fen, q.charged_fen) == (600, 2000, 9400)
    assert q.points_earned == 112  # 94 x 1.2 = 112.8
    assert "points_offset" in q.applied


@pytest.mark.parametrize(
    ("points", "message"),
    [
        (150, "multiple of 100"),
        (6000, "at most 50%"),  # 60 yuan of 114
        (-100, "whole number of points"),
    ],
)
def test_bad_points_offset_is_refused(member_at: Any, points: int, message: str) -> None:
    member = member_at("银卡", card_type="points")
    with pytest.raises(InvalidRequest, match=message) as err:
        quote(member, 12000, points_offset=points)
    assert err.value.details["field"] == "points_offset"


def test_points_offset_worth_more_than_the_bill_is_refused(rules: Any, member_at: Any) -> None:
    rules(redemption={"max_offset_bp": 10000})
    member = member_at("普通会员", card_type="points")
    assert quote(member, 500, points_offset=500).charged_fen == 0
    with pytest.raises(InvalidRequest, match="worth more"):
        quote(member, 500, points_offset=600)


def test_anonymous_gift_card_has_no_level_and_no_points(rules: Any, make_card: Any) -> None:
    from app.stores.services import get_store

    card = make_card("gift")
    q = quote_checkout(
        card=card,
        member=None,
        store=get_store("SH01"),
        amount_fen=12000,
        items=None,
        points_offset=None,
        at=WEDNESDAY,
    )
    assert q == CheckoutQuote(0, 12000, 0, 0, 0, ())
    with pytest.raises(InvalidRequest, match="anonymous"):
        quote_checkout(
            card=card,
            member=None,
            store=None,
            amount_fen=12000,
            items=None,
            points_offset=100,
            at=WEDNESDAY,
        )


@pytest.mark.parametrize(
    ("amount", "items", "field"),
    [
        (12000, [{"sku": "A", "amount_fen": 11999}], "items"),
        (12000, [{"sku": "A", "amount_fen": "12000"}], "items[0]"),
        (12000, [{"sku": "A", "amount_fen": 12000, "quantity": 0}], "items[0]"),
        (12000, "A", "items"),
        (-1, None, "amount_fen"),
        (1.5, None, "amount_fen"),
    ],
)
def test_bad_amounts_and_items_are_refused(
    member_at: Any, amount: Any, items: Any, field: str
) -> None:
    with pytest.raises(InvalidRequest) as err:
        quote(member_at("银卡"), amount, items=items)
    assert err.value.details["field"] == field


def test_birthday_month_doubles_points(member_at: Any) -> None:
    solar = member_at("普通会员", card_type="points", birthday="1990-11-03")
    assert quote(solar, 10000).points_earned == 200
    # Lunar 10-08 fell on 2026-11-16: November 2026 is the birthday month.
    lunar = member_at(
        "普通会员", card_type="points", birthday="1990-10-08", birthday_calendar="lunar"
    )
    assert quote(lunar, 10000).points_earned == 200
    assert "birthday_month" in quote(lunar, 10000).applied
    # Lunar 10-08 of 2025 fell on 2025-11-27, not in December: no bonus there.
    december = dt.datetime(2025, 12, 4, 12, tzinfo=CST)  # a Thursday
    assert quote(lunar, 10000, at=december).points_earned == 100


def test_zero_amount_checkout_earns_nothing(member_at: Any) -> None:
    q = quote(member_at("金卡", card_type="count"), 0)
    assert (q.discount_fen, q.charged_fen, q.points_earned, q.growth_earned) == (0, 0, 0, 0)


def test_growth_from_points(rules: Any, member_at: Any) -> None:
    rules(growth={"source": "points", "rate_bp": 5000})
    q = quote(member_at("银卡", card_type="points"), 12000, at=WEDNESDAY)
    assert (q.points_earned, q.growth_earned) == (205, 102)


def test_without_rules_nothing_is_multiplied(app: Any, make_member: Any) -> None:
    member = make_member(card_type="points")
    q = quote(member, 12345)
    assert (q.discount_fen, q.charged_fen, q.points_earned, q.growth_earned) == (0, 12345, 123, 123)


# --- recharge bonus -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "amount", "bonus"),
    [
        ("普通会员", 49999, 0),
        ("普通会员", 50000, 5000),  # 充500送50
        ("普通会员", 99999, 5000),
        ("普通会员", 100000, 12000),  # 充1000送120 beats 充500送50
        ("金卡", 100000, 12000),  # 120 beats 8% of 1000 = 80
        ("金卡", 200000, 16000),  # 8% of 2000 = 160 beats 120
        ("银卡", 200000, 12000),  # the 8% plan is for 金卡 only
    ],
)
def test_recharge_bonus_picks_the_best_single_plan(
    member_at: Any, level: str, amount: int, bonus: int
) -> None:
    from app.cards.services import member_cards

    member = member_at(level)
    card = member_cards(member)[0]
    assert recharge_bonus(card=card, member=member, amount_fen=amount, at=THURSDAY) == bonus


def test_recharge_plan_dates_card_types_and_repeat(rules: Any, member_at: Any) -> None:
    from app.cards.services import member_cards

    rules(
        recharge_plans=[
            {"name": "每满500送50", "min_amount_fen": 50000, "bonus_fen": 5000, "repeat": True},
            {
                "name": "双11",
                "min_amount_fen": 10000,
                "bonus_bp": 1500,
                "starts_on": "2026-11-11",
                "ends_on": "2026-11-11",
                "card_types": ["stored_value"],
            },
            {"name": "7.5%", "min_amount_fen": 1, "bonus_bp": 750},
        ]
    )
    member = member_at("普通会员")
    card = member_cards(member)[0]
    bonus = recharge_bonus(card=card, member=member, amount_fen=149999, at=THURSDAY)
    assert bonus == 11250  # 7.5% of 1499.99 = 112.49925 -> 112.50; 每满500 gives 100
    assert recharge_bonus(card=card, member=member, amount_fen=150000, at=THURSDAY) == 15000
    singles_day = dt.datetime(2026, 11, 11, 9, tzinfo=CST)
    assert recharge_bonus(card=card, member=member, amount_fen=100000, at=singles_day) == 15000
    assert recharge_bonus(card=card, member=member, amount_fen=13, at=THURSDAY) == 1  # 0.975


# --- expiry ---------------------------------------------------------------------------


def test_points_expire_at_the_end_of_the_next_year_local_time(rules: Any) -> None:
    assert points_expiry(THURSDAY) == dt.date(2027, 12, 31)
    # 2026-12-31 17:00 UTC is already 2027-01-01 in Shanghai.
    assert points_expiry(dt.datetime(2026, 12, 31, 17, tzinfo=dt.UTC)) == dt.date(2028, 12, 31)


def test_points_expire_after_n_months(rules: Any) -> None:
    rules(points_expiry={"mode": "months", "months": 12})
    assert points_expiry(dt.date(2026, 3, 10)) == dt.date(2027, 3, 9)
    assert points_expiry(dt.date(2026, 1, 31)) == dt.date(2027, 1, 30)
    rules(points_expiry={"mode": "months", "months": 1})
    assert points_expiry(dt.date(2026, 1, 31)) == dt.date(2026, 2, 28)  # no Feb 31: month end
    assert points_expiry(dt.date(2026, 1, 28)) == dt.date(2026, 2, 27)


def test_points_never_expire(rules: Any) -> None:
    rules(points_expiry={"mode": "never"})
    assert points_expiry(THURSDAY) is None


def test_an_import_is_seen_at_once(rules: Any, member_at: Any) -> None:
    member = member_at("普通会员", card_type="points")
    assert quote(member, 10000).points_earned == 100
    rules(earning={"points_per_yuan_bp": 20000})
    assert quote(member, 10000).points_earned == 200


def test_level_names_per_language_round_trip_through_the_rules_document(rules: Any) -> None:
    """A level carries optional names per language; a language left out reads the one name."""
    from app.ledger.rules.io import export_rules

    levels = [
        {"name": "普通会员", "rank": 1, "names": {"zh-Hant": "普通會員", "en": "Regular member"}},
        {"name": "金卡", "rank": 3, "names": {"en": "Gold"}},
    ]
    rules(levels=levels)
    gold = db.session.scalar(select(Level).where(Level.name == "金卡"))
    assert gold is not None
    assert gold.names() == {"zh-Hans": "金卡", "zh-Hant": "金卡", "en": "Gold"}
    exported = {lv["name"]: lv["names"] for lv in export_rules()["levels"]}
    assert exported["普通会员"] == {"zh-Hant": "普通會員", "en": "Regular member"}
    assert exported["金卡"] == {"en": "Gold"}
    assert exported["银卡"] == {}  # left out of the document: untouched, no names
    with pytest.raises(InvalidRequest, match=r"levels\[0\]\.names\.fr"):
        rules(levels=[{"name": "普通会员", "rank": 1, "names": {"fr": "Membre"}}])
