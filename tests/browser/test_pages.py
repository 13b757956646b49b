"""What a new user opens first: the front page, the API reference and the SMS simulator."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from app.db import db, unit_of_work
from tests.browser.conftest import screenshot

pytestmark = pytest.mark.concurrent


def test_front_page_links_to_the_api_reference(page: Any, live_server: str, backend: Any) -> None:
    page.goto(live_server + "/")
    assert page.title().startswith("Laoyou ")
    assert page.get_by_role("heading", level=1).inner_text() == "Laoyou 老友"
    screenshot(page, f"front-page-{backend['name']}")

    page.get_by_role("link", name="API reference").first.click()
    page.wait_for_url("**/docs/api")
    # Every operation of the document is on the page, checkout among them.
    assert page.get_by_text("/api/v1/checkout").count() >= 1
    assert "Idempotency-Key" in page.content()
    page.get_by_text("/api/v1/checkout").first.scroll_into_view_if_needed()
    screenshot(page, f"api-reference-{backend['name']}", full_page=False)


def test_a_member_texts_the_simulator_and_reads_the_reply(
    page: Any, live_server: str, live_app: Flask, backend: Any
) -> None:
    from app.cards.services import enroll
    from app.stores.services import create_store

    with unit_of_work():
        create_store("SH01", "静安店", "East")
        enroll({"phone": "+8613700000077", "home_store": "SH01", "name": "林小红"})
    db.session.remove()

    page.goto(live_server + "/sms/simulator")
    page.fill("#phone", "+8613700000077")
    page.fill("#text", "帮助")
    page.get_by_role("button", name="Send · 发送").click()
    reply = page.locator("#thread .bubble.them").first
    reply.wait_for()
    assert "积分" in reply.inner_text()
    assert "简体中文" in reply.inner_text()  # the help names the languages

    page.fill("#text", "积分")
    page.get_by_role("button", name="Send · 发送").click()
    page.locator("#thread .bubble.them").nth(1).wait_for()
    assert page.locator("#thread .bubble.them").nth(1).inner_text().startswith("您的积分：0")
    screenshot(page, f"sms-simulator-{backend['name']}")
