"""Promotions in a real browser: a marketer makes one, a member's checkout gets it, the
page counts it, and the marketer ends it early."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask import Flask

from app import clock
from app.db import db, unit_of_work
from tests.browser.conftest import screenshot

pytestmark = pytest.mark.concurrent

PASSWORD = "correct horse battery"
PHONE = "+8613700000021"


@pytest.fixture
def marketer(live_app: Flask) -> None:
    from app.auth.services import create_staff
    from app.cards.services import enroll
    from app.stores.services import create_store

    with unit_of_work():
        create_store("SH01", "静安店", "华东")
        enroll({"phone": PHONE, "home_store": "SH01", "name": "会员"})
        create_staff("mei", PASSWORD, role="marketer", display_name="市场部小梅")
    db.session.remove()


def _checkout(key: str) -> None:
    from app.cards.services import resolve_card
    from app.ledger.operations import checkout
    from app.stores.services import get_store

    with unit_of_work():
        checkout(resolve_card(PHONE), get_store("SH01"), 12800, "cash", key=key, actor="t")
    db.session.remove()


def test_a_marketer_makes_a_promotion_a_checkout_gets_it_and_she_ends_it(
    page: Any, live_server: str, marketer: None, backend: Any
) -> None:
    page.goto(live_server + "/admin/login")
    page.fill("input[name=username]", "mei")
    page.fill("input[name=password]", PASSWORD)
    page.locator("form.stack button").click()
    page.wait_for_url(live_server + "/admin/")
    page.get_by_role("navigation").get_by_role("link", name="促销活动").click()
    page.wait_for_url("**/admin/promotions")
    assert "还没有活动。" in page.locator("#promotions").inner_text()

    page.get_by_role("link", name="新建活动").click()
    page.wait_for_url("**/admin/promotions/new")
    today = clock.local_today()
    page.fill("input[name=name_zh_hans]", "双十二双倍积分")
    page.fill("input[name=name_en]", "Double points")
    page.fill("input[name=starts_at]", f"{today - dt.timedelta(days=1)}T00:00")
    page.fill("input[name=ends_at]", f"{today + dt.timedelta(days=7)}T00:00")
    page.fill("input[name=multiplier]", "2")
    page.fill("input[name=bonus_points]", "10")
    page.get_by_role("button", name="创建").click()
    page.wait_for_url("**/admin/promotions/*?saved=1")
    assert page.get_by_role("status").inner_text() == "已保存。"
    assert page.locator('[data-state="in_force"]').inner_text() == "进行中"

    # A member pays 128.00 yuan in cash: 128 points, +128 for 2×, +10.
    _checkout("browser-1")
    page.reload()
    assert page.locator('#figures [data-figure="members"]').inner_text() == "1"
    assert page.locator('#figures [data-figure="times"]').inner_text() == "1"
    assert page.locator('#figures [data-figure="points"]').inner_text() == "138"
    screenshot(page, f"admin-promotion-{backend['name']}")

    page.on("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="立即结束").click()
    page.wait_for_url("**/admin/promotions/*?ended=1")
    assert "此后的结账不再享受该活动" in page.get_by_role("status").inner_text()
    _checkout("browser-2")  # after the end: nothing more
    page.get_by_role("link", name="返回促销活动").click()
    page.wait_for_url("**/admin/promotions")
    row = page.locator("#promotions tbody tr").first
    assert "已结束" in row.inner_text()
    assert row.locator('[data-figure="times"]').inner_text() == "1"
    screenshot(page, f"admin-promotions-{backend['name']}")
