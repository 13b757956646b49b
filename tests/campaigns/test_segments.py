"""Segments against hand-counted members; every malformed definition refused with its reason."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from app.campaigns.segments import (
    MAX_DEPTH,
    get_segment,
    list_segments,
    member_ids_query,
    parse_definition,
    preview,
    save_segment,
)
from app.cards.services import member_cards
from app.clock import local_today
from app.db import db
from app.errors import InvalidRequest, NotFound
from app.ledger.operations import checkout, recharge
from app.members.models import WechatBinding
from app.members.services import define_question
from app.optout.services import opt_out

#: The day the age conditions are counted on (the ledger's are counted on today).
DAY = dt.date(2026, 7, 28)


@pytest.fixture
def crowd(
    app: Flask,
    make_member: Callable[..., Any],
    make_store: Callable[..., Any],
    make_level: Callable[..., Any],
) -> dict[str, Any]:
    """Three members whose every answer below was counted by hand.

    A: female, Shanghai, SH01, Gold, tags coffee+tea, teacher, high income, born 1990-03-10,
       answered diet=veg, spent 100 yuan once today (100 points).
    B: male, Beijing, BJ01, Silver, tag tea, teacher, low income, born 2000-07-29 (25 on
       DAY), recharged 500 yuan, opted out of SMS.
    C: nothing stated, SH01, Silver (the entry level), bound on WeChat, spent 30 yuan
       twice today (60 points).
    """
    sh, bj = make_store("SH01"), make_store("BJ01", region="North")
    silver, gold = make_level("Silver", 1), make_level("Gold", 2, upgrade_threshold=10**9)
    define_question("diet", "Diet", "choice", choices=["veg", "meat"])
    a = make_member(
        "+8613900000011",
        gender="female",
        region="Shanghai",
        home_store="SH01",
        tags=["coffee", "tea"],
        occupation="teacher",
        income_band="high",
        birthday="1990-03-10",
        answers={"diet": "veg"},
    )
    b = make_member(
        "+8613900000012",
        gender="male",
        region="Beijing",
        home_store="BJ01",
        tags=["tea"],
        occupation="teacher",
        income_band="low",
        birthday="2000-07-29",
    )
    c = make_member("+8613900000013", home_store="SH01")
    a.level, b.level = gold, silver
    db.session.add(WechatBinding(openid="o-ccc", member_id=c.id, via="scene"))
    db.session.flush()
    checkout(member_cards(a)[0], sh, 10000, "cash", key="seg-a", actor="test")
    checkout(member_cards(c)[0], sh, 3000, "cash", key="seg-c1", actor="test")
    checkout(member_cards(c)[0], sh, 3000, "cash", key="seg-c2", actor="test")
    recharge(member_cards(b)[0], bj, 50000, key="seg-b", actor="test")
    opt_out("sms", b.phone, source="test")
    db.session.flush()
    return {"A": a.id, "B": b.id, "C": c.id}


def who(crowd: dict[str, Any], definition: Any, day: dt.date | None = None) -> list[str]:
    names = {v: k for k, v in crowd.items()}
    ids = db.session.scalars(member_ids_query(parse_definition(definition), day)).all()
    return sorted(names[i] for i in ids if i in names)


def leaf(field: str, op: str, value: Any, **extra: Any) -> dict[str, Any]:
    return {"field": field, "op": op, "value": value, **extra}


CASES = [
    (leaf("gender", "eq", "female"), ["A"]),
    (leaf("gender", "in", ["male", "unknown"]), ["B", "C"]),
    (leaf("region", "eq", "Beijing"), ["B"]),
    (leaf("home_store", "in", ["SH01"]), ["A", "C"]),
    (leaf("level", "in", ["Gold"]), ["A"]),
    (leaf("level", "at_least", "Gold"), ["A"]),
    (leaf("level", "at_least", "Silver"), ["A", "B", "C"]),
    (leaf("level", "in", ["Silver"]), ["B", "C"]),
    (leaf("tag", "has", "tea"), ["A", "B"]),
    (leaf("tag", "has_all", ["coffee", "tea"]), ["A"]),
    (leaf("tag", "has_any", ["coffee", "juice"]), ["A"]),
    (leaf("answer", "eq", "veg", question="diet"), ["A"]),
    (leaf("occupation", "eq", "teacher"), ["A", "B"]),
    (leaf("income_band", "in", ["low"]), ["B"]),
    (leaf("points", "gte", 100), ["A"]),
    (leaf("points", "between", [50, 99]), ["C"]),
    (leaf("points", "lte", 0), ["B"]),
    (leaf("stored_value_fen", "gte", 50000), ["B"]),
    (leaf("spend_fen", "gte", 6000, days=30), ["A", "C"]),
    (leaf("spend_fen", "gte", 7000, days=30), ["A"]),
    (leaf("spend_fen", "lte", 6000, days=30), ["B", "C"]),
    (leaf("visits", "gte", 2, days=7), ["C"]),
    (leaf("visits", "eq", 0, days=7), ["B"]),
    (leaf("last_visit", "within_days", 7), ["A", "C"]),
    (leaf("last_visit", "not_within_days", 7), ["B"]),
    (leaf("birthday_month", "in", [3, 4]), ["A"]),
    (leaf("channel_bound", "eq", "wechat"), ["C"]),
    (leaf("opted_in", "eq", "sms"), ["A", "C"]),
    ({"not": leaf("gender", "eq", "female")}, ["B", "C"]),
    # C states no region: "not Shanghai" holds for C (unknown is not Shanghai).
    ({"not": leaf("region", "eq", "Shanghai")}, ["B", "C"]),
    ({"any": [leaf("region", "eq", "Beijing"), leaf("tag", "has", "coffee")]}, ["A", "B"]),
    (
        {"all": [leaf("occupation", "eq", "teacher"), {"not": leaf("income_band", "eq", "high")}]},
        ["B"],
    ),
    ({"all": []}, ["A", "B", "C"]),
]


@pytest.mark.parametrize(("definition", "expected"), CASES)
def test_segment_members_as_counted_by_hand(
    crowd: dict[str, Any], definition: Any, expected: list[str]
) -> None:
    assert who(crowd, definition) == expected


def test_age_bands_on_a_given_day(crowd: dict[str, Any]) -> None:
    # On 2026-07-28 A is 36 and B still 25 (born 2000-07-29); C states no birth year.
    assert who(crowd, leaf("age", "between", [30, 40]), DAY) == ["A"]
    assert who(crowd, leaf("age", "eq", 25), DAY) == ["B"]
    assert who(crowd, leaf("age", "eq", 26), DAY + dt.timedelta(days=1)) == ["B"]


def test_joined_between_local_days(crowd: dict[str, Any]) -> None:
    # The shop's day, not the machine's: from 16:00 UTC they differ (CST is UTC+8).
    today = local_today().isoformat()
    assert who(crowd, leaf("joined", "between", [today, today])) == ["A", "B", "C"]
    assert who(crowd, leaf("joined", "before", "2020-01-01")) == []


def test_preview_counts_and_masks_the_sample(crowd: dict[str, Any]) -> None:
    shown = preview({"any": [leaf("tag", "has", "tea"), leaf("home_store", "in", ["SH01"])]})
    assert shown.count == 3
    assert [phone for _id, phone, _name in shown.sample] == [
        "+86139****0011",
        "+86139****0012",
        "+86139****0013",
    ]


def test_a_segment_is_saved_and_reused(crowd: dict[str, Any]) -> None:
    saved = save_segment("Tea lovers", leaf("tag", "has", "tea"), created_by="amy")
    assert [s.name for s in list_segments()] == ["Tea lovers"]
    assert who(crowd, get_segment(saved.id).definition) == ["A", "B"]
    save_segment("Tea lovers", leaf("tag", "has", "coffee"), created_by="amy", segment_id=saved.id)
    assert who(crowd, get_segment(saved.id).definition) == ["A"]
    with pytest.raises(InvalidRequest):
        save_segment("Tea lovers", {"all": []}, created_by="amy")  # the name is taken
    with pytest.raises(NotFound):
        get_segment(999999)


def _deep(depth: int) -> dict[str, Any]:
    node: dict[str, Any] = leaf("gender", "eq", "male")
    for _ in range(depth - 1):
        node = {"not": node}
    return node


REFUSED = [
    (leaf("shoe_size", "eq", 42), "definition.field", "unknown field 'shoe_size'"),
    (leaf("gender", "like", "f"), "definition.op", "gender takes eq, in"),
    (leaf("gender", "eq", "robot"), "definition.value", "must be one of"),
    (leaf("points", "gte", 1.5), "definition.value", "whole number"),
    (leaf("points", "gte", True), "definition.value", "whole number"),
    (leaf("points", "gte", "100"), "definition.value", "whole number"),
    (leaf("points", "gte", 10**13), "definition.value", "between 0 and"),
    (leaf("points", "between", [9, 1]), "definition.value", "low <= high"),
    (leaf("spend_fen", "gte", 1), "definition", "needs days"),
    (leaf("spend_fen", "gte", 1, days=0), "definition.days", "between 1 and"),
    (leaf("region", "eq", "x" * 65), "definition.value", "at most 64"),
    (leaf("region", "eq", "a\x00b"), "definition.value", "at most 64"),
    (leaf("region", "in", []), "definition.value", "non-empty list"),
    (leaf("home_store", "in", ["ZZ99"]), "definition.value", "unknown store 'ZZ99'"),
    (leaf("level", "at_least", "Diamond"), "definition.value", "unknown level"),
    (leaf("answer", "eq", "x", question="nope"), "definition.question", "unknown question"),
    (leaf("joined", "before", "2026-02-30"), "definition.value", "YYYY-MM-DD"),
    (leaf("birthday_month", "in", [13]), "definition.value[0]", "between 1 and 12"),
    ({"field": "gender", "op": "eq"}, "definition", "needs a value"),
    ({**leaf("gender", "eq", "male"), "colour": "red"}, "definition", "unknown key 'colour'"),
    ({"all": [], "any": []}, "definition", "must be one of all, any, not"),
    ({"either": []}, "definition", "unknown combination 'either'"),
    ({"any": []}, "definition.any", "list of conditions"),
    ([1, 2], "definition", "must be an object"),
    (_deep(MAX_DEPTH + 1), "definition" + ".not" * MAX_DEPTH, "nested deeper"),
    ({"any": [leaf("gender", "eq", "male")] * 100}, "definition.any[99]", "at most 100"),
]


@pytest.mark.parametrize(("definition", "where", "reason"), REFUSED)
def test_a_malformed_definition_is_refused_with_its_reason(
    crowd: dict[str, Any], definition: Any, where: str, reason: str
) -> None:
    with pytest.raises(InvalidRequest) as refused:
        save_segment("Bad", definition, created_by="amy")
    assert refused.value.status == 400
    assert refused.value.details["field"] == where
    assert reason in refused.value.message
    assert list_segments() == []


def test_the_deepest_allowed_tree_is_accepted(crowd: dict[str, Any]) -> None:
    assert MAX_DEPTH == 6  # five NOTs around "male": not male
    assert who(crowd, _deep(MAX_DEPTH)) == ["A", "C"]
