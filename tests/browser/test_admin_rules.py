"""The rules room in a real browser: a changed earning rule at the next API checkout,
a cashier refused, the pages in three languages and on a tablet."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest
from flask import Flask

from app.db import db, unit_of_work
from tests.browser.conftest import screenshot

pytestmark = pytest.mark.concurrent

PASSWORD = "correct horse battery"


@pytest.fixture
def shop(live_app: Flask) -> dict[str, str]:
    """A store with the example's levels, a member, an admin, a cashier and an API key."""
    from app.auth.services import create_api_key, create_staff
    from app.cards.services import enroll
    from app.ledger.rules.io import import_rules
    from app.stores.services import create_store

    with unit_of_work():
        store = create_store("SH01", "静安店", "华东")
        import_rules(
            {
                "version": 1,
                "levels": [
                    {"name": "普通会员", "rank": 1, "names": {"en": "Member"}},
                    {
                        "name": "金卡",
                        "rank": 2,
                        "discount_bp": 9000,
                        "upgrade_threshold": 100000,
                        "names": {"en": "Gold"},
                    },
                ],
                "recharge_plans": [
                    {"name": "充500送50", "min_amount_fen": 50000, "bonus_fen": 5000}
                ],
            }
        )
        enroll({"phone": "+8613700000011", "home_store": "SH01", "name": "会员"})
        create_staff("boss", PASSWORD, role="admin", display_name="王老板")
        create_staff("clerk", PASSWORD, role="cashier", store_code="SH01", display_name="李收银")
        _key, secret = create_api_key(store, "till")
    db.session.remove()
    return {"key": secret}


def sign_in(page: Any, base: str, username: str) -> None:
    page.goto(base + "/admin/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.locator("form.stack button").click()
    page.wait_for_url(base + "/admin/")


def checkout(base: str, key: str, idempotency_key: str) -> int:
    """A till's checkout of 100 yuan in cash at SH01: the points it earned."""
    body = {"card": "+8613700000011", "store": "SH01", "amount_fen": 10000, "pay_with": "cash"}
    request = urllib.request.Request(
        base + "/api/v1/checkout",
        data=json.dumps(body).encode(),
        method="POST",
        headers={
            "Authorization": f"Bearer {key}",
            "Content-Type": "application/json",
            "Idempotency-Key": idempotency_key,
        },
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 201
        return int(json.loads(answer.read())["points_earned"])


def test_an_admin_changes_a_store_rate_and_the_next_checkout_earns_by_it(
    page: Any, live_server: str, shop: dict[str, str], backend: Any
) -> None:
    assert checkout(live_server, shop["key"], "before") == 100
    sign_in(page, live_server, "boss")
    page.get_by_role("navigation").get_by_role("link", name="规则").click()
    page.wait_for_url("**/admin/rules")
    screenshot(page, f"admin-rules-zh-Hans-{backend['name']}")
    page.get_by_role("link", name="门店积分倍数").click()
    page.wait_for_url("**/admin/rules/store-rates")

    new = page.locator("fieldset").last
    new.locator("select").select_option("SH01")
    new.locator("input[name$='.name']").fill("静安店三倍积分")
    new.locator("input[name$='.multiplier_bp']").fill("3")
    page.get_by_role("button", name="保存").click()

    page.wait_for_url("**/admin/rules/store-rates?saved=1")
    assert "已保存" in page.get_by_role("status").inner_text()
    assert page.locator("input[name='0.multiplier_bp']").input_value() == "3"
    screenshot(page, f"admin-rules-store-rates-{backend['name']}")
    assert checkout(live_server, shop["key"], "after") == 300

    # A refusal: a rate that is not a number is named beside its input, nothing saved.
    page.locator("input[name='0.multiplier_bp']").fill("三倍")
    page.get_by_role("button", name="保存").click()
    assert "未保存" in page.get_by_role("alert").inner_text()
    assert page.locator("input[name='0.multiplier_bp']").get_attribute("aria-invalid") == "true"
    screenshot(page, f"admin-rules-refused-{backend['name']}")
    assert checkout(live_server, shop["key"], "again") == 300

    page.goto(live_server + "/admin/audit")
    assert page.get_by_role("cell", name="rules.update").first.is_visible()


def pay_with_stored_value(base: str, key: str, idempotency_key: str) -> int:
    """A till's checkout of 100 yuan from the member's stored value: the HTTP status."""
    body = {
        "card": "+8613700000011",
        "store": "SH01",
        "amount_fen": 10000,
        "pay_with": "stored_value",
    }
    request = urllib.request.Request(
        base + "/api/v1/checkout",
        data=json.dumps(body).encode(),
        method="POST",
        headers={
            "Authorization": f"Bearer {key}",
            "Content-Type": "application/json",
            "Idempotency-Key": idempotency_key,
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as refused:
        return int(refused.code)


def test_an_admin_sets_quiet_hours_and_an_overdraft_limit(
    page: Any, live_server: str, shop: dict[str, str], backend: Any
) -> None:
    from app.messaging.compose import quiet_hours

    sign_in(page, live_server, "boss")
    page.goto(live_server + "/admin/rules/alerts")
    quiet = page.locator("#quiet-hours")
    assert "21:00 至 09:00" in quiet.inner_text()
    quiet.locator("input[name=start]").fill("22:30")
    quiet.locator("input[name=end]").fill("07:00")
    quiet.get_by_role("button", name="保存免打扰时段").click()

    page.wait_for_url("**/admin/rules/alerts?saved=1")
    assert "已保存" in page.get_by_role("status").inner_text()
    assert "22:30 至 07:00" in page.locator("#quiet-hours").inner_text()
    assert page.locator("#quiet-hours input[name=start]").input_value() == "22:30"
    screenshot(page, f"admin-rules-quiet-hours-{backend['name']}")
    assert quiet_hours() == ("22:30", "07:00")  # what the next send reads
    db.session.remove()

    # The member's stored value card holds nothing and has no limit of its own.
    assert pay_with_stored_value(live_server, shop["key"], "before") == 409
    page.goto(live_server + "/admin/rules")
    page.get_by_role("link", name="透支额度（按卡类型）").click()
    page.wait_for_url("**/admin/rules/overdraft")
    new = page.locator("fieldset").last
    new.locator("select").select_option("stored_value")
    new.locator("input[name$='.credit_limit_fen']").fill("100")
    page.get_by_role("button", name="保存").click()

    page.wait_for_url("**/admin/rules/overdraft?saved=1")
    assert "已保存" in page.get_by_role("status").inner_text()
    assert page.locator("input[name='0.credit_limit_fen']").input_value() == "100.00"
    screenshot(page, f"admin-rules-overdraft-{backend['name']}")
    assert pay_with_stored_value(live_server, shop["key"], "after") == 201
    assert pay_with_stored_value(live_server, shop["key"], "beyond") == 409

    page.goto(live_server + "/admin/audit")
    assert page.get_by_role("cell", name="quiet_hours.update").first.is_visible()


def test_the_rules_pages_in_three_languages(
    page: Any, live_server: str, shop: dict[str, str], backend: Any
) -> None:
    sign_in(page, live_server, "boss")
    for language, heading, levels in (
        ("zh-Hans", "会员计划规则", "会员等级"),
        ("zh-Hant", "會員計劃規則", "會員等級"),
        ("en", "The programme's rules", "Levels"),
    ):
        page.goto(live_server + "/admin/rules")
        if page.locator("html").get_attribute("lang") != language:
            with page.expect_navigation():
                page.locator("select[name=language]").select_option(language)
        assert page.get_by_role("heading", level=1).inner_text() == heading
        screenshot(page, f"admin-rules-overview-{language}-{backend['name']}")
        page.get_by_role("link", name=levels, exact=True).first.click()
        page.wait_for_url("**/admin/rules/levels")
        assert page.locator("input[name='1.names.en']").input_value() == "Gold"
        screenshot(page, f"admin-rules-levels-{language}-{backend['name']}")
        page.goto(live_server + "/admin/rules/recharge-plans")
        assert page.locator("input[name='0.min_amount_fen']").input_value() == "500.00"
        screenshot(page, f"admin-rules-recharge-{language}-{backend['name']}")
        page.goto(live_server + "/admin/rules/alerts")
        screenshot(page, f"admin-rules-alerts-{language}-{backend['name']}")
        page.goto(live_server + "/admin/rules/json/levels")
        screenshot(page, f"admin-rules-json-{language}-{backend['name']}")


def test_a_cashier_is_refused_a_rules_page(
    page: Any, live_server: str, shop: dict[str, str], backend: Any
) -> None:
    sign_in(page, live_server, "clerk")
    assert page.get_by_role("navigation").get_by_role("link", name="规则").count() == 0

    response = page.goto(live_server + "/admin/rules/levels")

    assert response.status == 403
    assert page.get_by_role("heading", level=1).inner_text() == "无权访问"
    assert "查看会员规则" in page.locator("main").inner_text()
    screenshot(page, f"admin-rules-forbidden-{backend['name']}")


@pytest.mark.parametrize(
    "path", ["/admin/rules", "/admin/rules/levels", "/admin/rules/recharge-plans"]
)
def test_rules_pages_fit_a_tablet(
    browser: Any, live_server: str, shop: dict[str, str], backend: Any, path: str
) -> None:
    tablet = browser.new_context(locale="zh-CN", viewport={"width": 768, "height": 1024})
    try:
        page = tablet.new_page()
        sign_in(page, live_server, "boss")
        page.goto(live_server + path)

        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")

        assert overflow <= 0
        screenshot(page, f"admin-tablet-{path.strip('/').replace('/', '-')}-{backend['name']}")
    finally:
        tablet.close()
