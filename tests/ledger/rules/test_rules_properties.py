"""Properties of quote_checkout over random baskets (hypothesis, modest example counts)."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from app.cards.services import member_cards
from app.db import db
from app.ledger.rules.engine import quote_checkout
from app.ledger.rules.io import import_rules
from app.members.models import Level
from app.stores.services import get_store

EXAMPLE = Path(__file__).parents[3] / "docs" / "rules.example.json"
CST = dt.timezone(dt.timedelta(hours=8))
CATEGORIES = ["food", "seasonal", "tobacco", "gift_card", None]
SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

lines = st.lists(
    st.fixed_dictionaries(
        {
            "sku": st.just("S"),
            "category": st.sampled_from(CATEGORIES),
            "amount_fen": st.integers(0, 50000),
            "quantity": st.integers(1, 3),
        }
    ),
    min_size=1,
    max_size=6,
)


@pytest.fixture
def members(app: Any, make_store: Any, make_member: Any) -> dict[str, Any]:
    for code in ("SH01", "SH02", "BJ01"):
        make_store(code)
    import_rules(json.loads(EXAMPLE.read_text(encoding="utf-8")))
    found = {}
    for name in ("普通会员", "银卡", "金卡"):
        member = make_member(card_type="stored_value")
        member.level = db.session.scalar(select(Level).where(Level.name == name))
        found[name] = member
    db.session.flush()
    return found


def _quote(member: Any, items: list[dict[str, Any]] | None, amount: int, **kw: Any) -> Any:
    return quote_checkout(
        card=member_cards(member)[0],
        member=member,
        store=get_store(kw.get("store", "SH01")),
        amount_fen=amount,
        items=items,
        points_offset=kw.get("offset"),
        at=kw.get("at", dt.datetime(2026, 11, 25, 12, tzinfo=CST)),
    )


@SETTINGS
@given(
    items=lines,
    level=st.sampled_from(["普通会员", "银卡", "金卡"]),
    offset_yuan=st.integers(0, 300),
    store=st.sampled_from(["SH01", "BJ01"]),
)
def test_money_always_adds_up(
    members: dict[str, Any], items: list[dict[str, Any]], level: str, offset_yuan: int, store: str
) -> None:
    member = members[level]
    amount = sum(i["amount_fen"] for i in items)
    eligible = sum(i["amount_fen"] for i in items if i["category"] not in ("tobacco", "gift_card"))
    base = _quote(member, items, amount, store=store)
    assert base.discount_fen + base.charged_fen == amount
    assert 0 <= base.discount_fen <= math.ceil(eligible * 0.1)  # at most 10% (金卡) of eligible
    offset = min(offset_yuan * 100, (base.charged_fen // 2) // 100 * 100)
    q = _quote(member, items, amount, store=store, offset=offset)
    assert q.discount_fen == base.discount_fen
    assert q.points_offset_fen == offset
    assert q.discount_fen + q.points_offset_fen + q.charged_fen == amount
    assert q.charged_fen >= 0
    # Paying part with points never earns more points; never earns on nothing.
    assert 0 <= q.points_earned <= base.points_earned
    if q.charged_fen == 0:
        assert q.points_earned == 0


@SETTINGS
@given(
    amounts=st.lists(st.integers(0, 30000), min_size=1, max_size=8),
    level=st.sampled_from(["普通会员", "银卡", "金卡"]),
)
def test_splitting_a_plain_basket_into_lines_changes_nothing(
    members: dict[str, Any], amounts: list[int], level: str
) -> None:
    member = members[level]
    items = [{"sku": f"S{n}", "category": "food", "amount_fen": a} for n, a in enumerate(amounts)]
    whole = _quote(member, None, sum(amounts))
    split = _quote(member, items, sum(amounts))
    assert split == whole


@SETTINGS
@given(amount=st.integers(1, 200000))
def test_a_higher_level_never_pays_more_nor_earns_less(
    members: dict[str, Any], amount: int
) -> None:
    # 普通会员 pays 98% (stored-value card) x 1.5; 银卡 95% x 1.8; 金卡 90% x 2.25 (会员日).
    quotes = [_quote(members[name], None, amount) for name in ("普通会员", "银卡", "金卡")]
    for lower, higher in itertools.pairwise(quotes):
        assert higher.charged_fen <= lower.charged_fen
        assert higher.points_earned >= lower.points_earned
