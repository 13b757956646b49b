"""The marketers' room: a segment saved with its live count, a broadcast scheduled and cancelled."""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from app.campaigns.models import Broadcast, Segment
from app.campaigns.segments import MAX_DEPTH
from app.db import db

TEA = {"field": "tag", "op": "has", "value": "tea"}


@pytest.fixture
def tea_drinkers(app: Flask, make_member: Callable[..., Any]) -> list[Any]:
    return [
        make_member("+8613900000031", tags=["tea"], name="Ann"),
        make_member("+8613900000032", tags=["tea", "cake"]),
        make_member("+8613900000033", tags=["cake"]),
    ]


def test_the_live_count_and_sample(signed_in: Any, tea_drinkers: list[Any]) -> None:
    marketer = signed_in("marketer")
    answer = marketer.post("/admin/segments/preview", {"definition": json.dumps(TEA)})
    assert answer.status_code == 200
    assert answer.json["count"] == 2
    assert [m["phone"] for m in answer.json["sample"]] == ["+86139****0031", "+86139****0032"]
    refused = marketer.post("/admin/segments/preview", {"definition": '{"field": "shoe"}'})
    assert refused.status_code == 400
    assert "没有名为 shoe 的条件" in refused.json["error"]


def test_a_segment_is_saved_and_listed(signed_in: Any, tea_drinkers: list[Any]) -> None:
    marketer = signed_in("marketer")
    saved = marketer.post("/admin/segments/new", {"name": "Tea", "definition": json.dumps(TEA)})
    assert saved.status_code == 302
    listed = marketer.get("/admin/segments")
    assert "Tea" in listed.text and '"value": "tea"' in listed.text
    segment = db.session.scalars(select(Segment)).one()
    page = marketer.get(f"/admin/segments/{segment.id}")
    assert page.status_code == 200 and "data-count>2<" in page.text


@pytest.mark.parametrize(
    "form",
    [
        {"name": "Bad", "definition": "{not json"},
        {"name": "Bad", "definition": json.dumps({"field": "points", "op": "gte", "value": 0.5})},
        {"name": "Bad", "definition": "[" * 5000},
        {"name": "", "definition": "{}"},
        {"name": "x" * 121, "definition": "{}"},
        {"name": "a\x00b", "definition": "{}"},
        {"name": "Big", "definition": json.dumps({"all": []}) + " " * 20_001},
    ],
)
def test_a_bad_segment_is_refused_and_nothing_saved(
    signed_in: Any, tea_drinkers: list[Any], form: dict[str, str]
) -> None:
    answer = signed_in("marketer").post("/admin/segments/new", form)
    assert answer.status_code == 400
    # The form again with the reason; a NUL is refused by the panel's boundary first.
    assert 'role="alert"' in answer.text or "NUL" in answer.text
    assert db.session.scalars(select(Segment)).all() == []


CAKE = {"field": "tag", "op": "has", "value": "cake"}
#: (tea OR cake) AND NOT (tea AND cake): Ann (tea) and the third (cake), not the second.
NESTED = {"all": [{"any": [TEA, CAKE]}, {"not": {"all": [TEA, CAKE]}}]}


def _nested(levels: int) -> dict[str, Any]:
    node: dict[str, Any] = TEA
    for _ in range(levels - 1):
        node = {"all": [node]}
    return node


def test_a_nested_segment_is_saved_and_shown_back(signed_in: Any, tea_drinkers: list[Any]) -> None:
    marketer = signed_in("marketer")
    answer = marketer.post("/admin/segments/preview", {"definition": json.dumps(NESTED)})
    assert (answer.json["count"], [m["name"] for m in answer.json["sample"]]) == (2, ["Ann", ""])
    saved = marketer.post(
        "/admin/segments/new", {"name": "Mixed", "definition": json.dumps(NESTED)}
    )
    assert saved.status_code == 302
    segment = db.session.scalars(select(Segment)).one()
    assert segment.definition == NESTED
    page = marketer.get(f"/admin/segments/{segment.id}")
    # The builder draws the groups from the JSON the page holds, and the count is there.
    assert "data-count>2<" in page.text
    shown = page.text.split("data-definition>")[1].split("</textarea>")[0]
    assert json.loads(html.unescape(shown)) == NESTED
    setup = page.text.split('id="builder-setup">')[1].split("</script>")[0]
    assert json.loads(setup)["max_depth"] == MAX_DEPTH


@pytest.mark.parametrize(
    ("language", "deep", "big"),
    [
        ("zh-Hans", "条件组嵌套过深：一个分群最多 6 层", "条件过多：一个分群最多包含 100 个"),
        ("zh-Hant", "條件組巢狀過深：一個分群最多 6 層", "條件過多：一個分群最多包含 100 個"),
        ("en", "nested too deep: a segment has at most 6 levels", "at most 100 conditions"),
    ],
)
def test_a_too_deep_or_too_big_segment_is_refused_in_the_staff_language(
    signed_in: Any, tea_drinkers: list[Any], language: str, deep: str, big: str
) -> None:
    marketer = signed_in("marketer")
    switched = marketer.post("/admin/language", {"language": language, "next": "/admin/"})
    assert switched.status_code == 302
    too_deep = json.dumps(_nested(MAX_DEPTH + 1))
    too_big = json.dumps({"any": [TEA] * 100})  # 101 nodes
    deepest = json.dumps(_nested(MAX_DEPTH))
    assert marketer.post("/admin/segments/preview", {"definition": deepest}).json["count"] == 2
    for definition, text in ((too_deep, deep), (too_big, big)):
        page = marketer.post("/admin/segments/new", {"name": "Deep", "definition": definition})
        assert page.status_code == 400
        assert text in html.unescape(page.text)
        answer = marketer.post("/admin/segments/preview", {"definition": definition})
        assert answer.status_code == 400 and text in answer.json["error"]
    # ``at`` names the refused node, for the builder to mark.
    answer = marketer.post("/admin/segments/preview", {"definition": too_deep})
    assert answer.json["at"] == "definition" + ".all[0]" * MAX_DEPTH
    assert db.session.scalars(select(Segment)).all() == []


#: Conditions a marketer can get wrong, inside a group, and what the panel says of each.
REFUSED_CONDITIONS = [
    (
        {"field": "home_store", "op": "in", "value": ["BJ99"]},
        (
            "没有代码为 BJ99 的门店。",
            "沒有代碼為 BJ99 的門店。",
            "There is no store with the code BJ99.",
        ),
    ),
    (
        {"field": "points", "op": "has", "value": 1},
        (
            "“积分”只能这样比较：至少、至多、等于和介于（下限, 上限）。",
            "「積分」只能這樣比較：至少、至多、等於和介於（下限, 上限）。",
            "Points is compared with: at least, at most, is, and between (low, high).",
        ),
    ),
    (
        {"field": "points", "op": "gte", "value": 0.5},
        ("条件中的数值必须是整数。", "條件中的數值必須是整數。", "must be a whole number."),
    ),
    (
        {"field": "gender", "op": "eq", "value": "f"},
        ("请选择女、男、其他或未填写。", "請選擇女、男、其他或未填寫。", "Choose Female, Male"),
    ),
    (
        {"field": "joined", "op": "before", "value": "12/01/2026"},
        ("日期的写法是 YYYY-MM-DD。", "日期的寫法是 YYYY-MM-DD。", "A date is written YYYY-MM-DD."),
    ),
]


@pytest.mark.parametrize("language", ["zh-Hans", "zh-Hant", "en"])
def test_a_refused_condition_is_said_wholly_in_the_staff_language(
    signed_in: Any, tea_drinkers: list[Any], language: str
) -> None:
    """Not the service's English inside a translated sentence: the whole reason is in the
    staff member's language, and ``at`` still names the row the builder outlines."""
    marketer = signed_in("marketer")
    marketer.post("/admin/language", {"language": language, "next": "/admin/"})
    column = ("zh-Hans", "zh-Hant", "en").index(language)
    for condition, said in REFUSED_CONDITIONS:
        definition = json.dumps({"all": [TEA, {"any": [condition]}]})
        answer = marketer.post("/admin/segments/preview", {"definition": definition})
        assert answer.status_code == 400
        assert said[column] in answer.json["error"], answer.json["error"]
        assert answer.json["at"].startswith("definition.all[1].any[0]")
        if language != "en":
            assert not any(w in answer.json["error"] for w in ("unknown", "must", "takes"))
        page = marketer.post("/admin/segments/new", {"name": "Bad", "definition": definition})
        assert page.status_code == 400 and said[column] in html.unescape(page.text)
    assert db.session.scalars(select(Segment)).all() == []


@pytest.mark.parametrize(
    "definition",
    [
        '{"not":' * 2800,
        '{"all":[' * 2400 + "]}" * 2400,
        json.dumps({"all": [{"not": {"any": []}}]}),
        json.dumps({"all": [{"not": TEA, "any": [TEA]}]}),
        json.dumps({"all": {"any": [TEA]}}),
        json.dumps({"all": [{"any": [TEA, "tea"]}]}),
    ],
)
def test_a_malformed_nesting_posted_by_hand_is_a_400(
    signed_in: Any, tea_drinkers: list[Any], definition: str
) -> None:
    marketer = signed_in("marketer")
    page = marketer.post("/admin/segments/new", {"name": "Hand", "definition": definition})
    assert page.status_code == 400 and 'role="alert"' in page.text
    assert marketer.post("/admin/segments/preview", {"definition": definition}).status_code == 400
    assert db.session.scalars(select(Segment)).all() == []


def _broadcast_form(**changes: str) -> dict[str, str]:
    return {
        "title": "Tea week",
        "segment": "",
        "channels": "sms",
        "when": "later",
        "at": "2099-01-01T10:00",
        "text_zh-Hans": "{name}，新茶到店",
        "text_en": "{name}, the new tea is in",
        "action": "save",
        **changes,
    }


def test_a_broadcast_previewed_scheduled_listed_and_cancelled(
    signed_in: Any, tea_drinkers: list[Any]
) -> None:
    marketer = signed_in("marketer")
    shown = marketer.post("/admin/broadcasts/new", _broadcast_form(action="preview"))
    assert shown.status_code == 200
    assert 'data-preview="zh-Hans">王小明，新茶到店<' in shown.text
    assert 'data-preview="en">王小明, the new tea is in<' in shown.text
    assert db.session.scalars(select(Broadcast)).all() == []

    # 2099 is more than a year ahead: refused, then scheduled for a near time.
    far = marketer.post("/admin/broadcasts/new", _broadcast_form())
    assert far.status_code == 400
    made = marketer.post("/admin/broadcasts/new", _broadcast_form(when="now"))
    assert made.status_code == 302
    broadcast = db.session.scalars(select(Broadcast)).one()
    assert (broadcast.status, broadcast.texts["en"]) == ("scheduled", "{name}, the new tea is in")
    assert "Tea week" in marketer.get("/admin/broadcasts").text

    cancelled = marketer.post(f"/admin/broadcasts/{broadcast.id}/cancel")
    assert cancelled.status_code == 302
    page = marketer.get(cancelled.headers["Location"])
    assert 'data-status="cancelled"' in page.text


@pytest.mark.parametrize(
    "changes",
    [
        {"segment": "1.5"},
        {"segment": "99999999999999999999"},
        {"at": "2026-02-30T10:00"},
        {"channels": "fax"},
        {"text_en": "{name} {surname}"},
        {"text_zh-Hans": "", "text_en": ""},
    ],
)
def test_a_bad_broadcast_is_refused(
    signed_in: Any, tea_drinkers: list[Any], changes: dict[str, str]
) -> None:
    answer = signed_in("marketer").post("/admin/broadcasts/new", _broadcast_form(**changes))
    assert 400 <= answer.status_code < 500
    assert db.session.scalars(select(Broadcast)).all() == []


def test_a_cashier_is_refused_the_room(signed_in: Any) -> None:
    assert signed_in("cashier").get("/admin/broadcasts").status_code == 403


def test_the_detail_page_shows_progress_delivery_and_skips(
    signed_in: Any, tea_drinkers: list[Any]
) -> None:
    from app.campaigns.broadcasts import create_broadcast, queue_broadcast
    from app.optout.services import opt_out

    opt_out("sms", tea_drinkers[2].phone, source="test")
    broadcast = create_broadcast(
        title="All",
        segment_id=None,
        channels="sms",
        texts={"en": "Hello {name}"},
        send_at=None,
        created_by="amy",
    )
    queue_broadcast(broadcast.id)
    page = signed_in("marketer", language="en").get(f"/admin/broadcasts/{broadcast.id}")
    assert page.status_code == 200
    assert 'data-count="targeted">2<' in page.text
    assert 'data-count="skipped">1<' in page.text
    assert 'data-delivery="queued">2<' in page.text
    assert 'data-reason="opted_out">Opted out<' in page.text
    assert "Hello {name}" in page.text
