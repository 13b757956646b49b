"""POST / GET / PATCH /api/v1/members: the JSON a POS sees, and bad input that writes nothing."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import quote

import pytest

from app.cards.services import add_medium, find_card
from app.clock import frozen
from app.db import db
from app.members.models import Member, Question
from tests.api.support import NOW_JSON

ZERO = {"points": 0, "stored_value_fen": 0, "visits": 0}


def _question(key: str, type_: str, **kw: Any) -> Question:
    question = Question(key=key, label=key.replace("_", " "), type=type_, **kw)
    db.session.add(question)
    db.session.flush()
    return question


def _expected_member(member: Member, **fields: Any) -> dict[str, Any]:
    db.session.refresh(member)  # a request may have changed it in its own session
    card = find_card(member.phone)
    assert card is not None
    body = {
        "id": member.id,
        "phone": member.phone,
        "name": None,
        "gender": "unknown",
        "birthday": None,
        "birthday_calendar": "solar",
        "lunar_leap_month": False,
        "language": "zh-Hans",
        "home_store": "SH01",
        "level": None,
        "level_rank": None,
        "level_name": None,
        "level_names": None,
        "region": None,
        "occupation": None,
        "income_band": None,
        "tags": [],
        "answers": {},
        "referrer": None,
        "joined_at": NOW_JSON,
        "sms_opt_out": False,
        "wechat_opt_out": False,
        "cards": [
            {
                "number": card.number,
                "type": "stored_value",
                "state": "active",
                "is_primary": True,
                "replaced_by": None,
            }
        ],
        "balances": ZERO,
    }
    body.update(fields)
    return body


def test_join_answers_the_member_with_a_primary_card(api, make_level, make_store, rows, fixed_now):
    make_level("Silver", rank=1)
    make_level("Gold", rank=2)
    make_store("BJ01", region="North")
    referrer = api.post("/api/v1/members", json={"phone": "13900139000", "home_store": "SH01"})
    _question("favourite_dish", "text")
    _question("visits_per_month", "integer")
    before = rows()

    response = api.post(
        "/api/v1/members",
        json={
            "phone": "13800138000",
            "home_store": "bj01",
            "name": "王小明",
            "gender": "male",
            "birthday": "1990-08-15",
            "birthday_calendar": "lunar",
            "lunar_leap_month": False,
            "language": "zh-Hant",
            "region": "Beijing",
            "occupation": "teacher",
            "income_band": "B",
            "tags": ["tea", "noodles", "tea"],
            "answers": {"favourite_dish": "饺子", "visits_per_month": 4},
            "referrer": "+86 139 0013 9000",
        },
    )

    assert response.status_code == 201, response.json
    member = db.session.get(Member, response.json["id"])
    assert response.json == _expected_member(
        member,
        phone="+8613800138000",
        name="王小明",
        gender="male",
        birthday="1990-08-15",
        birthday_calendar="lunar",
        language="zh-Hant",
        home_store="BJ01",
        level="Silver",
        level_rank=1,
        level_name="Silver",
        level_names={"zh-Hans": "Silver", "zh-Hant": "Silver", "en": "Silver"},
        region="Beijing",
        occupation="teacher",
        income_band="B",
        tags=["noodles", "tea"],
        answers={"favourite_dish": "饺子", "visits_per_month": 4},
        referrer=referrer.json["phone"],
    )
    assert rows()["member"] == before["member"] + 1
    assert rows()["card"] == before["card"] + 1


def test_join_with_a_chosen_card_type(api, fixed_now):
    response = api.post(
        "/api/v1/members",
        json={"phone": "+14155552671", "home_store": "SH01", "card_type": "points"},
    )
    assert response.status_code == 201
    assert response.json["phone"] == "+14155552671"
    assert [(c["type"], c["state"]) for c in response.json["cards"]] == [("points", "active")]


@pytest.mark.parametrize(
    "ref",
    [
        "13800138000",
        quote("+86 138 0013 8000"),
        "008613800138000",
        "+8613800138000",
    ],
)
def test_member_is_found_by_any_phone_format(api, make_member, fixed_now, ref):
    member = make_member("13800138000")
    response = api.get(f"/api/v1/members/{ref}")
    assert response.status_code == 200, response.json
    # The lookup adds today's promotions for the member (none here) to the member.
    assert response.json == {**_expected_member(member), "promotions": []}


def test_foreign_numbers_are_kept_apart_by_country(api, make_member, fixed_now):
    us = make_member("+14155552671")
    uk = make_member("+44 20 7946 0958")
    assert uk.phone == "+442079460958"
    assert api.get("/api/v1/members/%2B1%20415%20555%202671").json["id"] == us.id
    assert api.get("/api/v1/members/00442079460958").json["id"] == uk.id
    assert api.get("/api/v1/members/4155552671").status_code == 404


def test_member_is_found_by_card_number_and_medium(api, make_member, fixed_now):
    member = make_member("13800138000")
    card = find_card(member.phone)
    assert (
        api.post(
            f"/api/v1/cards/{card.number}/media", json={"kind": "ic_uid", "value": "04A1B2C3D4"}
        ).status_code
        == 201
    )
    assert api.get(f"/api/v1/members/{card.number}").json == {
        **_expected_member(member),
        "promotions": [],
    }
    assert api.get("/api/v1/members/04A1B2C3D4").json["id"] == member.id


def test_patch_changes_only_the_fields_given(api, make_member, make_store, rows, fixed_now):
    member = make_member("13800138000", name="王小明", tags=["tea"])
    make_store("GZ01", region="South")
    _question("likes_spicy", "boolean")

    response = api.patch(
        "/api/v1/members/13800138000",
        json={
            "phone": "+86 138 0013 8001",
            "home_store": "GZ01",
            "birthday": "1984-02-29",
            "language": "en",
            "answers": {"likes_spicy": True},
            "occupation": None,
        },
    )

    assert response.status_code == 200, response.json
    assert response.json == _expected_member(
        member,
        phone="+8613800138001",
        name="王小明",
        home_store="GZ01",
        birthday="1984-02-29",
        language="en",
        tags=["tea"],
        answers={"likes_spicy": True},
    )
    assert api.get("/api/v1/members/13800138000").status_code == 404
    assert api.get("/api/v1/members/13800138001").json == {**response.json, "promotions": []}


def test_a_referrer_is_named_by_card_number_on_join_and_by_medium_on_patch(api, make_member):
    referrer = make_member("13900139000")
    card = find_card(referrer.phone)
    assert card is not None
    add_medium(card, "barcode", "BC-0001")

    joined = api.post(
        "/api/v1/members",
        json={"phone": "13800138000", "home_store": "SH01", "referrer": card.number},
    )
    patched = api.patch("/api/v1/members/13800138000", json={"referrer": "BC-0001"})
    unknown = api.patch("/api/v1/members/13800138000", json={"referrer": "BC-0002"})

    assert joined.status_code == 201, joined.json
    assert joined.json["referrer"] == "+8613900139000"
    assert patched.status_code == 200, patched.json
    assert patched.json["referrer"] == "+8613900139000"
    assert unknown.status_code == 400
    assert unknown.json["error"]["code"] == "invalid_request"
    assert unknown.json["error"]["message"] == "no member matches referrer 'BC-0002'"
    assert unknown.json["error"]["details"] == {"field": "referrer"}


def test_patch_sets_a_lunar_leap_month_birthday(api, make_member, fixed_now):
    make_member("13800138000")
    # 2020 had a leap fourth month (闰四月).
    response = api.patch(
        "/api/v1/members/13800138000",
        json={"birthday": "2020-04-10", "birthday_calendar": "lunar", "lunar_leap_month": True},
    )
    assert response.status_code == 200, response.json
    assert (
        response.json["birthday"],
        response.json["birthday_calendar"],
        response.json["lunar_leap_month"],
    ) == ("2020-04-10", "lunar", True)
    assert api.get("/api/v1/members/13800138000").json["lunar_leap_month"] is True


# --- bad input: a clear error and nothing written ---------------------------------------


def _refused(api, rows, method: str, path: str, body: Any, status: int, code: str) -> dict:
    before = rows()
    response = getattr(api, method)(path, json=body)
    assert response.status_code == status, response.json
    assert response.json["error"]["code"] == code
    assert response.json["error"]["message"]
    assert rows() == before
    return response.json["error"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"phone": "12345", "home_store": "SH01"}, "phone"),
        ({"phone": "not a phone", "home_store": "SH01"}, "phone"),
        ({"phone": "13800138000", "home_store": "NOPE"}, "home_store"),
        ({"home_store": "SH01"}, "phone"),
        ({"phone": "13800138000"}, "home_store"),
        ({"phone": "13800138000", "home_store": "SH01", "gender": "robot"}, "gender"),
        ({"phone": "13800138000", "home_store": "SH01", "language": "fr"}, "language"),
        ({"phone": "13800138000", "home_store": "SH01", "birthday": "15/08/1990"}, "birthday"),
        ({"phone": "13800138000", "home_store": "SH01", "birthday": "1990-02-30"}, "birthday"),
        ({"phone": "13800138000", "home_store": "SH01", "birthday": "2999-01-01"}, "birthday"),
        (
            # 2021 had no leap month at all, so no 闰四月.
            {
                "phone": "13800138000",
                "home_store": "SH01",
                "birthday": "2021-04-10",
                "birthday_calendar": "lunar",
                "lunar_leap_month": True,
            },
            "birthday",
        ),
        ({"phone": "13800138000", "home_store": "SH01", "card_type": "platinum"}, "card_type"),
        ({"phone": "13800138000", "home_store": "SH01", "referrer": "13999999999"}, "referrer"),
        ({"phone": "13800138000", "home_store": "SH01", "tags": "tea"}, "tags"),
        ({"phone": "13800138000", "home_store": "SH01", "shoe_size": 42}, "shoe_size"),
        ({"phone": "13800138000", "home_store": "SH01", "sms_opt_out": True}, "sms_opt_out"),
    ],
)
def test_join_refuses_bad_input(api, rows, body, field):
    error = _refused(api, rows, "post", "/api/v1/members", body, 400, "invalid_request")
    assert error["details"]["field"] == field


def test_join_refuses_unknown_question_and_wrong_answer_type(api, rows):
    _question("favourite_dish", "text")
    _question("visits_per_month", "integer")
    base = {"phone": "13800138000", "home_store": "SH01"}
    error = _refused(
        api, rows, "post", "/api/v1/members",
        base | {"answers": {"shoe_size": 42}}, 400, "invalid_request",
    )  # fmt: skip
    assert "shoe_size" in error["message"]
    error = _refused(
        api, rows, "post", "/api/v1/members",
        base | {"answers": {"visits_per_month": "four"}}, 400, "invalid_request",
    )  # fmt: skip
    assert "visits_per_month" in error["message"]
    assert error["details"] == {"field": "answers"}


def test_join_refuses_a_phone_that_is_already_a_member(api, make_member, rows):
    make_member("13800138000")
    error = _refused(
        api, rows, "post", "/api/v1/members",
        {"phone": "+86 138 0013 8000", "home_store": "SH01", "name": "Someone else"},
        409, "duplicate_member",
    )  # fmt: skip
    assert error["details"] == {"phone": "+8613800138000"}


def test_patch_refuses_bad_input_and_changes_nothing(api, make_member, rows, fixed_now):
    member = make_member("13800138000", name="王小明")
    make_member("13800138001")
    shown = api.get("/api/v1/members/13800138000").json
    cases = [
        ({"phone": "13800138001"}, 409, "duplicate_member"),
        ({"phone": "999"}, 400, "invalid_request"),
        ({"name": "李四", "gender": "robot"}, 400, "invalid_request"),
        ({"name": "李四", "home_store": "NOPE"}, 400, "invalid_request"),
        ({"name": "李四", "referrer": "13800138000"}, 400, "invalid_request"),
        (
            {"birthday": "2021-04-10", "birthday_calendar": "lunar", "lunar_leap_month": True},
            400,
            "invalid_request",
        ),
        ({"id": 5}, 400, "invalid_request"),
    ]
    for body, status, code in cases:
        _refused(api, rows, "patch", "/api/v1/members/13800138000", body, status, code)
    db.session.expire_all()
    assert api.get("/api/v1/members/13800138000").json == shown
    assert member.name == "王小明"


def test_unknown_member_is_not_found(api):
    response = api.get("/api/v1/members/13912345678")
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"
    response = api.patch("/api/v1/members/13912345678", json={"name": "x"})
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"


def test_search_pages_through_members(api, make_member):
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    for i, (phone, name) in enumerate(
        [("13800138000", "王小明"), ("13800138001", "王大明"), ("+14155552671", "Ann 100%")]
    ):
        with frozen(start + dt.timedelta(days=i)):
            make_member(phone, name=name)

    def phones(query: str) -> tuple[list[str], int]:
        body = api.get(f"/api/v1/members?{query}").json
        return [m["phone"] for m in body["members"]], body["total"]

    assert phones("") == (["+14155552671", "+8613800138001", "+8613800138000"], 3)
    assert phones("per_page=2&page=2") == (["+8613800138000"], 3)
    assert phones("q=%E7%8E%8B") == (["+8613800138001", "+8613800138000"], 2)  # 王
    assert phones("q=138%200013%208001") == (["+8613800138001"], 1)
    assert phones("q=100%25") == (["+14155552671"], 1)
    assert phones("q=%25") == (["+14155552671"], 1)
    assert phones("q=nobody") == ([], 0)
    body = api.get("/api/v1/members?per_page=1").json
    assert body["page"] == 1 and body["per_page"] == 1 and len(body["members"]) == 1
    assert {**body["members"][0], "promotions": []} == api.get("/api/v1/members/+14155552671").json


@pytest.mark.parametrize("query", ["page=0", "per_page=101", "per_page=x", "page=1.5"])
def test_search_refuses_bad_paging(api, query):
    response = api.get(f"/api/v1/members?{query}")
    assert response.status_code == 400
    assert response.json["error"]["code"] == "invalid_request"


def test_member_level_name_follows_accept_language(api, make_member, make_level, fixed_now):
    """The API's ``level`` stays the one name; ``level_name`` is in the caller's language."""
    level = make_level("金卡", 3)
    level.name_en, level.name_zh_hant = "Gold", "金卡(繁)"
    member = make_member("+8613800138000")
    member.level = level
    db.session.flush()
    english = api.get("/api/v1/members/13800138000", headers={"Accept-Language": "en"})
    assert english.status_code == 200
    assert (english.json["level"], english.json["level_name"]) == ("金卡", "Gold")
    assert english.json["level_names"] == {"zh-Hans": "金卡", "zh-Hant": "金卡(繁)", "en": "Gold"}
    traditional = api.get("/api/v1/members/13800138000", headers={"Accept-Language": "zh-TW"})
    assert traditional.json["level_name"] == "金卡(繁)"
    assert api.get("/api/v1/members/13800138000").json["level_name"] == "金卡"
