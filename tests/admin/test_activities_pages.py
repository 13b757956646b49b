"""The activities pages: a marketer creates one, sees its figures and members (phones
masked); bad input is a 400 page that creates nothing; a cashier is refused."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select

from app import clock
from app.campaigns import activities
from app.campaigns.activity_models import Activity
from app.db import db

FORM = {
    "code": "tea1",
    "title_zh_hans": "茶艺沙龙",
    "title_zh_hant": "茶藝沙龍",
    "title_en": "Tea salon",
    "place": "南京路店二楼",
    "starts_at": "2099-03-01T14:00",
    "ends_at": "2099-03-01T16:00",
    "capacity": "2",
    "min_level_rank": "",
    "points": "50",
}


def _count() -> int:
    return db.session.scalar(select(func.count()).select_from(Activity)) or 0


def test_a_marketer_creates_an_activity_and_reads_its_figures(
    signed_in: Callable[..., Any], make_member: Callable[..., Any]
) -> None:
    marketer = signed_in("marketer")
    created = marketer.post("/admin/activities/new", FORM)
    assert created.status_code == 302, created.text
    assert created.headers["Location"].endswith("/admin/activities/TEA1?done=created")
    activity = activities.get_activity("TEA1")
    # 14:00 in the programme's time zone (Asia/Shanghai) is 06:00 UTC.
    assert activity.starts_at == dt.datetime(2099, 3, 1, 6, 0, tzinfo=dt.UTC)
    assert (activity.capacity, activity.points, activity.title_en) == (2, 50, "Tea salon")

    members = [make_member(f"+861380013820{i}", name=f"会员{i}") for i in range(3)]
    for member in members:
        activities.sign_up(member, "TEA1", channel="sms")
    page = marketer.get("/admin/activities/TEA1")
    assert page.status_code == 200
    html = page.text
    assert 'data-figure="confirmed"><div class="muted">已报名</div><div class="n">2</div>' in html
    assert 'data-figure="waiting"><div class="muted">候补名单</div><div class="n">1</div>' in html
    assert "+86138****8200" in html and "+8613800138200" not in html
    assert "报名 TEA1" in html

    listing = marketer.get("/admin/activities")
    assert "茶艺沙龙" in listing.text and "2 / 2" in listing.text


def test_bad_input_is_a_400_and_creates_nothing(signed_in: Callable[..., Any]) -> None:
    marketer = signed_in("marketer")
    for change, words in (
        ({"capacity": "1.5"}, "名额为 1 到 100,000 之间的整数。"),
        ({"capacity": "0"}, "名额为 1 到 100,000 之间的整数。"),
        ({"capacity": "99999999999999999999"}, "名额为"),
        ({"starts_at": "2099-02-30T10:00"}, "请以日期和时间填写"),
        ({"ends_at": "2099-03-01T13:00"}, "请以日期和时间填写"),
        ({"starts_at": "yesterday"}, "请以日期和时间填写"),
        ({"code": "茶"}, "代码为 1 到 16 个字母或数字。"),
        ({"title_zh_hans": ""}, "请填写简体中文标题"),
        ({"points": "-5"}, "参加积分为 0 或以上的整数。"),
        ({"min_level_rank": "7"}, "最低等级不是本会员计划的等级。"),
        ({"place": "x" * 300}, "请填写地点"),
    ):
        response = marketer.post("/admin/activities/new", {**FORM, **change})
        assert response.status_code == 400, change
        assert words in response.text, change
    nul = marketer.post("/admin/activities/new", {**FORM, "place": "a\x00b"})
    assert nul.status_code == 400
    assert _count() == 0
    marketer.post("/admin/activities/new", FORM)
    taken = marketer.post("/admin/activities/new", FORM)
    assert taken.status_code == 400 and "这个代码已被其他活动使用。" in taken.text
    assert _count() == 1


def test_unknown_activity_and_refused_roles(signed_in: Callable[..., Any]) -> None:
    assert signed_in("admin").get("/admin/activities/%00").status_code in (400, 404)
    assert signed_in("admin", "admin2").get("/admin/activities/NOPE").status_code == 404
    assert signed_in("cashier").get("/admin/activities").status_code == 403
    with clock.frozen(dt.datetime(2099, 1, 1, tzinfo=dt.UTC)):
        assert signed_in("marketer").get("/admin/activities").status_code == 200
