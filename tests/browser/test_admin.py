"""The admin panel in a real browser: sign in, rooms by permission, three languages."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from app.db import db, unit_of_work
from tests.browser.conftest import screenshot

pytestmark = pytest.mark.concurrent

PASSWORD = "correct horse battery"


@pytest.fixture
def chain(live_app: Flask) -> None:
    """Two stores, members at each, and an admin and a cashier, committed for the server."""
    from app.auth.services import create_staff
    from app.cards.services import enroll
    from app.stores.services import create_store

    with unit_of_work():
        create_store("SH01", "静安店", "华东")
        create_store("BJ01", "朝阳店", "华北")
        for n in range(3):
            enroll({"phone": f"+86137000000{n}1", "home_store": "SH01", "name": f"会员{n}"})
        enroll({"phone": "+8613700000091", "home_store": "BJ01", "name": "北京会员"})
        create_staff("boss", PASSWORD, role="admin", display_name="王老板")
        create_staff("clerk", PASSWORD, role="cashier", store_code="SH01", display_name="李收银")
    db.session.remove()


def sign_in(page: Any, base: str, username: str, password: str = PASSWORD) -> None:
    page.goto(base + "/admin/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.locator("form.stack button").click()


def test_an_admin_signs_in_and_reads_the_dashboard_in_three_languages(
    page: Any, live_server: str, chain: None, backend: Any
) -> None:
    page.goto(live_server + "/admin/")
    page.wait_for_url("**/admin/login?next=/admin/")
    assert page.get_by_role("heading", level=1).inner_text() == "登录"
    screenshot(page, f"admin-login-{backend['name']}")

    sign_in(page, live_server, "boss")

    page.wait_for_url(live_server + "/admin/")
    assert page.get_by_role("heading", level=1).inner_text() == "王老板，您好"
    assert page.locator("#members-count").inner_text() == "4"
    assert page.locator("#cards-count").inner_text() == "4"
    nav = page.get_by_role("navigation")
    assert nav.get_by_role("link", name="员工").is_visible()
    assert nav.get_by_role("link", name="审计日志").is_visible()
    screenshot(page, f"admin-dashboard-zh-Hans-{backend['name']}")

    for language, heading, staff_link in (
        ("zh-Hant", "王老板，您好", "員工"),
        ("en", "Hello, 王老板", "Staff"),
    ):
        with page.expect_navigation():
            page.locator("select[name=language]").select_option(language)
        page.get_by_role("navigation").get_by_role("link", name=staff_link).wait_for()
        assert page.get_by_role("heading", level=1).inner_text() == heading
        assert page.locator("html").get_attribute("lang") == language
        screenshot(page, f"admin-dashboard-{language}-{backend['name']}")

    # The language is the staff member's own: a new browser signs in to English.
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/admin/login")
    sign_in(page, live_server, "boss")
    page.wait_for_url(live_server + "/admin/")
    assert page.get_by_role("heading", level=1).inner_text() == "Hello, 王老板"

    page.get_by_role("navigation").get_by_role("link", name="Staff").click()
    page.wait_for_url("**/admin/staff")
    assert page.get_by_role("cell", name="clerk").is_visible()
    screenshot(page, f"admin-staff-en-{backend['name']}")
    page.get_by_role("navigation").get_by_role("link", name="Audit log").click()
    page.wait_for_url("**/admin/audit")
    assert page.get_by_role("cell", name="staff.language").first.is_visible()
    screenshot(page, f"admin-audit-en-{backend['name']}")


def test_a_cashier_is_refused_the_staff_page_and_sees_only_her_store(
    page: Any, live_server: str, chain: None, backend: Any
) -> None:
    sign_in(page, live_server, "clerk")
    page.wait_for_url(live_server + "/admin/")
    assert page.locator("#members-count").inner_text() == "3"  # SH01's, not BJ01's
    assert page.get_by_role("navigation").get_by_role("link", name="员工").count() == 0

    response = page.goto(live_server + "/admin/staff")

    assert response.status == 403
    assert page.get_by_role("heading", level=1).inner_text() == "无权访问"
    assert "管理员工和权限" in page.locator("main").inner_text()
    screenshot(page, f"admin-forbidden-zh-Hans-{backend['name']}")
    page.get_by_role("link", name="返回概览").click()
    page.wait_for_url(live_server + "/admin/")


def test_a_wrong_password_says_so_on_the_page(
    page: Any, live_server: str, chain: None, backend: Any
) -> None:
    sign_in(page, live_server, "boss", "not the password")

    assert page.get_by_role("alert").inner_text() == "用户名或密码错误。"
    assert page.locator("input[name=username]").input_value() == "boss"
    screenshot(page, f"admin-login-refused-{backend['name']}")


def test_an_adjustment_above_the_threshold_is_approved_by_a_second_admin(
    browser: Any, page: Any, live_server: str, live_app: Flask, chain: None, backend: Any
) -> None:
    from app.auth.services import create_staff
    from app.cards.services import find_card
    from app.ledger.balances import card_balances

    with unit_of_work():
        create_staff("boss2", PASSWORD, role="admin", display_name="赵经理")
    db.session.remove()

    sign_in(page, live_server, "boss")
    page.wait_for_url(live_server + "/admin/")
    page.get_by_role("navigation").get_by_role("link", name="调整余额").click()
    page.fill("input[name=card]", "13700000001")
    page.fill("input[name=amount_yuan]", "800")
    page.fill("input[name=reason]", "开业储值补录")
    page.get_by_role("button", name="调整").click()
    assert "等待另一位管理员审批" in page.get_by_role("status").inner_text()
    screenshot(page, f"admin-adjust-queued-{backend['name']}")

    second = browser.new_context(locale="zh-CN", viewport={"width": 1024, "height": 768})
    try:
        other = second.new_page()
        sign_in(other, live_server, "boss2")
        other.wait_for_url(live_server + "/admin/")
        other.get_by_role("navigation").get_by_role("link", name="审批").click()
        row = other.locator("tr", has_text="开业储值补录")
        assert "¥80000.00" not in row.inner_text() and "¥800.00" in row.inner_text()
        screenshot(other, f"admin-approvals-{backend['name']}")
        row.get_by_role("button", name="批准").click()
        other.get_by_role("heading", name="已处理").wait_for()
        assert "已批准" in other.locator("main").inner_text()
    finally:
        second.close()

    card = find_card("+8613700000001")
    assert card is not None
    assert card_balances(card.id).stored_value_fen == 80_000
    db.session.remove()


@pytest.mark.parametrize("path", ["/admin/", "/admin/staff/clerk", "/admin/audit", "/admin/adjust"])
def test_pages_fit_a_tablet_without_sideways_scrolling(
    browser: Any, live_server: str, chain: None, backend: Any, path: str
) -> None:
    tablet = browser.new_context(locale="zh-CN", viewport={"width": 768, "height": 1024})
    try:
        page = tablet.new_page()
        sign_in(page, live_server, "boss")
        page.wait_for_url(live_server + "/admin/")
        page.goto(live_server + path)

        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")

        assert overflow <= 0
        name = path.strip("/").replace("/", "-")
        screenshot(page, f"admin-tablet-{name}-{backend['name']}")
    finally:
        tablet.close()
