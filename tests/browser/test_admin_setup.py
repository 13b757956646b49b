"""The set-up pages in a real browser: an API key made on the page works, and once revoked fails."""

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
def chain(live_app: Flask) -> None:
    """Two stores with members, a question, and an admin, committed for the server."""
    from app.auth.services import create_staff
    from app.cards.services import enroll
    from app.members.services import define_question
    from app.stores.services import create_store

    with unit_of_work():
        create_store("SH01", "静安店", "华东")
        create_store("BJ01", "朝阳店", "华北")
        for n in range(2):
            enroll({"phone": f"+86137000000{n}1", "home_store": "SH01", "name": f"会员{n}"})
        define_question("favourite_dish", "最喜欢的菜系", "choice", choices=["川菜", "粤菜"])
        create_staff("boss", PASSWORD, role="admin", display_name="王老板")
    db.session.remove()


def sign_in(page: Any, base: str, username: str) -> None:
    page.goto(base + "/admin/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.locator("form.stack button").click()
    page.wait_for_url(base + "/admin/")


def stores_with(base: str, secret: str) -> tuple[int, Any]:
    """``GET /api/v1/stores`` as a POS would call it, over the network."""
    request = urllib.request.Request(
        base + "/api/v1/stores", headers={"Authorization": f"Bearer {secret}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read())


def test_a_key_made_on_the_page_works_until_it_is_revoked(
    page: Any, live_server: str, chain: None, backend: Any
) -> None:
    sign_in(page, live_server, "boss")
    page.get_by_role("navigation").get_by_role("link", name="API 密钥").click()
    page.wait_for_url("**/admin/api-keys")
    page.locator("select[name=store]").select_option("SH01")
    page.fill("input[name=label]", "前台收银机")
    page.get_by_role("button", name="创建密钥").click()

    secret = page.locator("#new-secret").inner_text()
    assert secret.startswith("lyk_")
    screenshot(page, f"admin-api-key-shown-once-{backend['name']}")
    status, body = stores_with(live_server, secret)
    assert status == 200
    assert "静安店" in json.dumps(body, ensure_ascii=False)

    page.reload()  # re-sends the form: refused, so no second key and no secret
    assert page.locator("#new-secret").count() == 0
    assert secret not in page.content()
    assert page.locator("tr", has_text="前台收银机").count() == 1
    page.goto(live_server + "/admin/api-keys")
    row = page.locator("tr", has_text="前台收银机")
    assert secret[:12] in row.inner_text()
    row.get_by_role("link", name="吊销").click()
    page.wait_for_url("**/revoke")
    screenshot(page, f"admin-api-key-revoke-{backend['name']}")
    page.get_by_role("button", name="确认吊销").click()
    page.wait_for_url("**/admin/api-keys?done=revoked")
    assert "已吊销" in page.locator("tr", has_text="前台收银机").inner_text()

    status, body = stores_with(live_server, secret)
    assert status == 401
    assert body["error"]["code"] == "unauthorized" if "error" in body else body


def test_the_stores_and_the_questionnaire_in_three_languages(
    page: Any, live_server: str, chain: None, backend: Any
) -> None:
    sign_in(page, live_server, "boss")
    page.get_by_role("navigation").get_by_role("link", name="门店").click()
    page.wait_for_url("**/admin/stores")
    page.fill("input[name=code]", "gz01")
    page.fill("input[name=name]", "天河店")
    page.fill("input[name=region]", "华南")
    page.get_by_role("button", name="创建").click()
    page.wait_for_url("**/admin/stores?done=GZ01")
    assert "天河店" in page.locator("tr", has_text="GZ01").inner_text()
    assert page.locator("tr", has_text="SH01").locator("td").nth(3).inner_text() == "2"

    page.goto(live_server + "/admin/questions")
    page.fill("input[name=key]", "shoe_size")
    page.fill("input[name=label]", "鞋码")
    page.locator("select[name=type]").select_option("integer")
    page.get_by_role("button", name="添加", exact=True).click()
    page.wait_for_url("**/admin/questions?done=shoe_size")
    assert "整数" in page.locator("tr", has_text="shoe_size").inner_text()

    for language, stores, questions in (
        ("zh-Hans", "门店", "会员问卷"),
        ("zh-Hant", "門店", "會員問卷"),
        ("en", "Stores", "Questionnaire"),
    ):
        if language != "zh-Hans":
            with page.expect_navigation():
                page.locator("select[name=language]").select_option(language)
        nav = page.get_by_role("navigation")
        nav.get_by_role("link", name=stores, exact=True).click()
        page.wait_for_url("**/admin/stores")
        assert page.get_by_role("heading", level=1).inner_text() == stores
        screenshot(page, f"admin-stores-{language}-{backend['name']}")
        nav.get_by_role("link", name=questions).click()
        page.wait_for_url("**/admin/questions*")
        assert page.get_by_role("heading", level=1).inner_text() == questions
        screenshot(page, f"admin-questions-{language}-{backend['name']}")
        page.goto(live_server + "/admin/api-keys")
        screenshot(page, f"admin-api-keys-{language}-{backend['name']}")


@pytest.mark.parametrize("path", ["/admin/stores", "/admin/api-keys", "/admin/questions"])
def test_the_set_up_pages_fit_a_tablet(
    browser: Any, live_server: str, chain: None, backend: Any, path: str
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
