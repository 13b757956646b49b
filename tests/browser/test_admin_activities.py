"""The activities pages in a real browser: a marketer creates an activity, members sign up
(one on the waiting list), one attends and rates it; the page shows the figures."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from app import clock
from app.campaigns import activities
from app.db import db, unit_of_work
from tests.browser.conftest import screenshot

pytestmark = pytest.mark.concurrent

PASSWORD = "correct horse battery"
PHONES = ("+8613700000021", "+8613700000022", "+8613700000023")


@pytest.fixture
def marketer(live_app: Flask) -> None:
    from app.auth.services import create_staff
    from app.cards.services import enroll
    from app.stores.services import create_store

    with unit_of_work():
        create_store("SH01", "静安店", "华东")
        for n, phone in enumerate(PHONES):
            enroll({"phone": phone, "home_store": "SH01", "name": f"会员{n + 1}"})
        create_staff("mia", PASSWORD, role="marketer", display_name="市场部小米")
    db.session.remove()


def test_a_marketer_creates_an_activity_and_reads_its_figures(
    page: Any, live_server: str, marketer: None, backend: Any
) -> None:
    page.goto(live_server + "/admin/login")
    page.fill("input[name=username]", "mia")
    page.fill("input[name=password]", PASSWORD)
    page.locator("form.stack button").click()
    page.wait_for_url(live_server + "/admin/")
    page.get_by_role("navigation").get_by_role("link", name="会员活动").click()
    page.wait_for_url("**/admin/activities")
    assert "还没有活动。" in page.locator("tbody").inner_text()

    page.get_by_role("link", name="新建活动").click()
    page.fill("input[name=code]", "TEA1")
    page.fill("input[name=title_zh_hans]", "周末茶艺沙龙")
    page.fill("input[name=title_en]", "Weekend tea salon")
    page.fill("input[name=place]", "静安店二楼")
    page.fill("input[name=starts_at]", "2099-03-01T14:00")
    page.fill("input[name=ends_at]", "2099-03-01T16:00")
    page.fill("input[name=capacity]", "2")
    page.fill("input[name=points]", "50")
    page.get_by_role("button", name="创建").click()
    page.wait_for_url("**/admin/activities/TEA1?done=created")
    assert page.locator("h1").inner_text() == "周末茶艺沙龙 TEA1"

    from app.cards.services import resolve_member

    with unit_of_work():
        for phone in PHONES:
            activities.sign_up(resolve_member(phone), "TEA1", channel="sms")
        activity = activities.get_activity("TEA1")
        with clock.frozen(activity.starts_at):
            activities.check_in("TEA1", member=resolve_member(PHONES[0]))
            activities.request_ratings(activity.ends_at)
        first = activities.signup_of(activity, resolve_member(PHONES[0]).id)
        assert first is not None
        activities.rate(first, 4, "茶很香")
    db.session.remove()

    page.reload()
    figure = page.locator("[data-figure] .n")
    assert figure.all_inner_texts() == ["2", "1", "0", "1", "1", "4.0"]
    members = page.locator('table[data-table="members"] tbody tr')
    assert members.count() == 3
    assert "+86137****0021" in members.first.inner_text()
    assert "茶很香" in members.first.inner_text()
    assert "候补名单" in members.nth(2).inner_text()
    screenshot(page, f"admin-activity-{backend['name']}")

    page.get_by_role("navigation").get_by_role("link", name="会员活动").click()
    row = page.locator("tbody tr").first
    assert "2 / 2" in row.inner_text() and "4.0" in row.inner_text()
    screenshot(page, f"admin-activities-{backend['name']}")
