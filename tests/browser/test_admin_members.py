"""The members room in a real browser: find a member, replace a card with a reason, import
members with balances and find them, a store manager kept to their own store's members."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from app.db import db, unit_of_work
from tests.browser.conftest import screenshot
from tests.browser.test_admin import PASSWORD, chain, sign_in  # noqa: F401

# The chain of test_admin (two stores, members, an admin and a cashier) for every test.
pytestmark = [pytest.mark.concurrent, pytest.mark.usefixtures("chain")]


def _member_id(phone: str) -> int:
    from app.members.services import find_member_by_phone

    member = find_member_by_phone(phone)
    assert member is not None
    found = member.id
    db.session.remove()
    return found


def test_an_admin_replaces_a_card_with_a_reason(
    page: Any, live_server: str, live_app: Flask, backend: Any
) -> None:
    from app.cards.services import find_card, get_card
    from app.ledger.operations import recharge
    from app.stores.services import get_store

    with unit_of_work():
        card = find_card("+8613700000001")
        assert card is not None
        recharge(card, get_store("SH01"), 30_000, key="browser-r1", actor="test")
        old = card.number
    db.session.remove()

    sign_in(page, live_server, "boss")
    page.wait_for_url(live_server + "/admin/")
    page.get_by_role("navigation").get_by_role("link", name="会员", exact=True).click()
    page.fill("input[name=q]", "137 0000 0001")
    page.get_by_role("button", name="搜索").click()
    page.get_by_role("link", name="会员0").click()
    page.wait_for_url("**/admin/members/*")
    screenshot(page, f"admin-member-before-replace-{backend['name']}")

    form = page.locator(f"#card-{old} form")
    form.locator("select[name=action]").select_option("replace")
    form.locator("input[name=reason]").fill("卡片磨损，顾客要求补卡")
    form.get_by_role("button", name="执行").click()

    status = page.locator("#outcome")
    status.wait_for()
    new = find_card("+8613700000001")
    assert new is not None and new.number != old
    assert f"新卡号是 {new.number}" in status.inner_text()
    assert "卡片磨损，顾客要求补卡" in page.locator(f"#card-{old}").inner_text()
    assert page.locator("#stored-value").inner_text() == "¥300.00"
    assert get_card(old).state == "cancelled" and find_card(old) is None
    screenshot(page, f"admin-member-replaced-{backend['name']}")
    db.session.remove()


def test_members_imported_from_csv_with_balances_show_in_the_panel(
    page: Any, live_server: str, backend: Any
) -> None:
    data = (
        "phone,name,home_store,card_number,card_type,points,points_expire_on,stored_value_fen\n"
        "13600001111,周导入,SH01,6300001,stored_value,2500,2099-12-31,66600\n"
        "13600002222,吴导入,BJ01,6300002,points,300,2099-12-31,\n"
        "13600003333,坏门店,XX99,,,,,\n"
    ).encode("gbk")  # as Chinese Excel saves it
    sign_in(page, live_server, "boss")
    page.wait_for_url(live_server + "/admin/")
    page.goto(live_server + "/admin/members")
    page.get_by_role("link", name="导入 CSV").click()
    page.wait_for_url("**/admin/members/import")

    page.set_input_files(
        "input[name=file]", {"name": "old-system.csv", "mimeType": "text/csv", "buffer": data}
    )
    page.get_by_role("button", name="检查文件").click()
    page.locator("#report").wait_for()
    assert page.locator("#imported").inner_text() == "2"
    assert page.locator("#refused").inner_text() == "1"
    assert "4" in page.locator("#refusals").inner_text()  # the refused row's line
    screenshot(page, f"admin-import-checked-{backend['name']}")

    page.get_by_role("button", name="导入这个文件").click()
    page.get_by_role("heading", name="已导入").wait_for()
    assert page.locator("#imported").inner_text() == "2"
    screenshot(page, f"admin-import-done-{backend['name']}")

    page.goto(live_server + "/admin/members")
    page.fill("input[name=q]", "周导入")
    page.get_by_role("button", name="搜索").click()
    page.get_by_role("link", name="周导入").click()
    page.wait_for_url("**/admin/members/*")
    assert page.locator("#stored-value").inner_text() == "¥666.00"
    assert page.locator("#points").inner_text() == "2500"
    assert "6300001" in page.locator("#cards").inner_text()
    assert "期初余额" in page.locator("#statement").inner_text()
    screenshot(page, f"admin-import-member-{backend['name']}")


def test_a_store_manager_cannot_see_another_stores_members(
    page: Any, live_server: str, backend: Any
) -> None:
    from app.auth.services import create_staff

    with unit_of_work():
        create_staff("shmgr", PASSWORD, role="store_manager", store_code="SH01")
    db.session.remove()
    beijing = _member_id("+8613700000091")

    sign_in(page, live_server, "shmgr")
    page.wait_for_url(live_server + "/admin/")
    page.get_by_role("navigation").get_by_role("link", name="会员", exact=True).click()
    page.wait_for_url("**/admin/members")
    assert page.locator("#found-count").inner_text() == "共 3 位会员"
    assert "北京会员" not in page.locator("main").inner_text()
    for query in ("北京会员", "13700000091"):
        page.fill("input[name=q]", query)
        page.get_by_role("button", name="搜索").click()
        assert page.locator("#found-count").inner_text() == "共 0 位会员"
    screenshot(page, f"admin-members-store-manager-{backend['name']}")

    response = page.goto(f"{live_server}/admin/members/{beijing}")

    assert response.status == 403
    assert page.get_by_role("heading", level=1).inner_text() == "无权访问"
    assert "北京会员" not in page.locator("main").inner_text()


def test_the_member_page_in_three_languages(page: Any, live_server: str, backend: Any) -> None:
    member = _member_id("+8613700000011")
    sign_in(page, live_server, "boss")
    page.wait_for_url(live_server + "/admin/")
    page.goto(f"{live_server}/admin/members/{member}")
    assert page.get_by_role("heading", name="交易明细").is_visible()
    screenshot(page, f"admin-member-zh-Hans-{backend['name']}")

    for language, heading in (("zh-Hant", "交易明細"), ("en", "Statement")):
        with page.expect_navigation():
            page.locator("select[name=language]").select_option(language)
        page.get_by_role("heading", name=heading).wait_for()
        assert page.locator("html").get_attribute("lang") == language
        screenshot(page, f"admin-member-{language}-{backend['name']}")

    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
