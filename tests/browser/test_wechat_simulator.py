"""The simulator page's WeChat tab in a real browser: type as a follower, read the reply."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from app.db import db, unit_of_work
from tests.browser.conftest import screenshot

pytestmark = pytest.mark.concurrent

OPENID = "oBrowser00000000000000001"


def test_a_follower_texts_the_wechat_tab_and_reads_the_reply(
    page: Any, live_server: str, live_app: Flask, backend: Any
) -> None:
    from app.cards.services import enroll
    from app.members.wechat import bind_openid
    from app.messaging.services import enqueue
    from app.stores.services import create_store

    with unit_of_work():
        create_store("SH01", "静安店", "East")
        member = enroll({"phone": "+8613700000088", "home_store": "SH01", "name": "王小明"})
        bind_openid(OPENID, member, via="code")
        enqueue(address=OPENID, body="会员卡 *0088 消费 12.00 元", kind="alert")
    db.session.remove()

    page.goto(live_server + "/sms/simulator")
    assert page.locator("#wechat-panel").is_hidden()
    page.get_by_role("tab", name="WeChat · 微信").click()
    assert page.locator("#phone-panel").is_hidden()
    page.fill("#openid", OPENID)
    page.fill("#wx-text", "积分")
    page.get_by_role("button", name="Send on WeChat · 微信发送").click()
    reply = page.locator("#wx-thread .bubble.them").first
    reply.wait_for()
    assert reply.inner_text().startswith("您的积分：0")
    # The outbox beside it is the openid's: the alert queued for this follower.
    page.locator("#outbox td", has_text="会员卡 *0088").wait_for()
    assert page.locator("#outbox-title").inner_text().startswith("Outbox for this openid")

    page.fill("#wx-text", "hello")
    page.get_by_role("button", name="Send on WeChat · 微信发送").click()
    page.locator("#wx-thread .bubble.them").nth(1).wait_for()
    assert "帮助" in page.locator("#wx-thread .bubble.them").nth(1).inner_text()
    screenshot(page, f"wechat-simulator-{backend['name']}")

    # The SMS tab is still there, unchanged.
    page.get_by_role("tab", name="SMS · 短信").click()
    assert page.locator("#phone-panel").is_visible()
