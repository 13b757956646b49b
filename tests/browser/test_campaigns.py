"""The marketers' room in a real browser: build a segment and watch its count, schedule a
broadcast, find it in the list, cancel it."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask import Flask

from app.db import db, unit_of_work
from tests.browser.conftest import screenshot
from tests.browser.test_admin_setup import PASSWORD, sign_in

pytestmark = pytest.mark.concurrent


@pytest.fixture
def chain(live_app: Flask) -> None:
    """A store, five members (three drink tea), and a marketer, committed for the server."""
    from app.auth.services import create_staff
    from app.cards.services import enroll
    from app.stores.services import create_store

    with unit_of_work():
        create_store("SH01", "静安店", "华东")
        for n in range(5):
            tags = ["tea"] if n < 3 else ["coffee"]
            enroll(
                {
                    "phone": f"+86137000001{n}1",
                    "home_store": "SH01",
                    "name": f"会员{n}",
                    "tags": tags,
                }
            )
        create_staff("mia", PASSWORD, role="marketer", display_name="市场部小米")
    db.session.remove()


def test_a_segment_and_a_broadcast_from_making_to_cancelling(
    page: Any, live_server: str, chain: None, backend: Any
) -> None:
    sign_in(page, live_server, "mia")
    page.get_by_role("navigation").get_by_role("link", name="分群").click()
    page.wait_for_url("**/admin/segments")
    page.get_by_role("link", name="新建分群").click()

    # The builder adds "tag has tea"; the count follows without saving.
    page.locator("#builder [data-add-condition]").click()
    row = page.locator("#builder [data-condition]")
    row.locator("[data-field]").select_option("tag")
    row.locator("[data-op]").select_option("has")
    row.locator("[data-value]").fill("tea")
    page.wait_for_function("document.getElementById('count').textContent === '3'")
    assert page.locator("#sample tr").count() == 3
    assert "+86137****0111" in page.locator("#sample").inner_text()
    # A condition the service refuses, typed as JSON, shows its reason; the count goes blank.
    page.locator("#json-box summary").click()
    page.fill("#definition", '{"field": "shoe_size", "op": "eq", "value": 42}')
    page.locator("#definition").dispatch_event("input")
    page.wait_for_function("!document.getElementById('problem').hidden")
    assert "shoe_size" in page.locator("#problem").inner_text()
    page.fill("#definition", '{"field": "tag", "op": "has", "value": "tea"}')
    page.locator("#definition").dispatch_event("input")
    page.wait_for_function("document.getElementById('count').textContent === '3'")
    page.fill("input[name=name]", "爱喝茶的会员")
    screenshot(page, f"admin-segment-count-{backend['name']}")
    page.get_by_role("button", name="保存").click()
    page.wait_for_url("**/admin/segments?done=*")
    assert page.locator("td", has_text="爱喝茶的会员").count() == 1

    # A broadcast to it, previewed in each language, then scheduled for later.
    page.goto(live_server + "/admin/broadcasts/new")
    page.fill("input[name=title]", "新茶上市")
    page.locator("select[name=segment]").select_option(label="爱喝茶的会员")
    page.fill("textarea[name='text_zh-Hans']", "{name}您好，{store}新茶到店")
    page.fill("textarea[name=text_en]", "Hi {name}, new tea at {store}")
    page.check("input[name=when][value=later]")
    day = dt.date.today() + dt.timedelta(days=7)
    page.fill("input[name=at]", f"{day.isoformat()}T10:00")
    page.get_by_role("button", name="预览").click()
    assert page.locator("[data-preview='zh-Hans']").inner_text() == "王小明您好，静安店新茶到店"
    assert page.locator("[data-preview=en]").inner_text() == "Hi 王小明, new tea at 静安店"
    screenshot(page, f"admin-broadcast-preview-{backend['name']}")
    page.get_by_role("button", name="定时发送").click()
    page.wait_for_url("**/admin/broadcasts/*")
    assert page.locator("[data-status]").first.inner_text() == "已排期"

    page.goto(live_server + "/admin/broadcasts")
    row = page.locator("tr", has_text="新茶上市")
    assert row.count() == 1
    assert f"{day.isoformat()} 10:00" in row.inner_text()
    screenshot(page, f"admin-broadcasts-list-{backend['name']}")
    row.get_by_role("link", name="新茶上市").click()
    page.get_by_role("button", name="取消群发").click()
    page.wait_for_url("**/admin/broadcasts/*?stopped=0")
    assert page.locator("[data-status]").first.inner_text() == "已取消"
    screenshot(page, f"admin-broadcast-cancelled-{backend['name']}")
