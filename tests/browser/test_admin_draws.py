"""Votes and draws in a real browser: a marketer creates a draw, members enter by SMS, the
marketer draws the winners and reads the revealed seed and the recomputed check."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask import Flask

from app.bot.engine import handle_message
from app.bot.message import Message
from app.campaigns import services
from app.db import db, unit_of_work
from tests.browser.conftest import screenshot

pytestmark = pytest.mark.concurrent

PASSWORD = "correct horse battery"
PHONES = [f"+86137000000{n:02d}" for n in range(6)]


@pytest.fixture
def marketer(live_app: Flask) -> None:
    from app.auth.services import create_staff
    from app.cards.services import enroll
    from app.stores.services import create_store

    with unit_of_work():
        create_store("SH01", "静安店", "华东")
        for n, phone in enumerate(PHONES):
            enroll({"phone": phone, "home_store": "SH01", "name": f"会员{n}"})
        create_staff("mkt", PASSWORD, role="marketer", display_name="小李")
    db.session.remove()


def _sign_in(page: Any, live_server: str) -> None:
    page.goto(live_server + "/admin/login")
    page.fill("input[name=username]", "mkt")
    page.fill("input[name=password]", PASSWORD)
    page.locator("form.stack button").click()
    page.wait_for_url(live_server + "/admin/")


def test_a_marketer_runs_a_draw_from_the_panel(
    page: Any, live_server: str, marketer: None, live_app: Flask, backend: Any
) -> None:
    _sign_in(page, live_server)
    page.get_by_role("navigation").get_by_role("link", name="抽奖").click()
    page.wait_for_url("**/admin/draws")
    page.get_by_role("link", name="新建抽奖").click()
    page.fill("input[name=title]", "周年庆抽奖")
    page.fill("textarea[name=prizes]", "保温杯=1\n代金券=2")
    page.get_by_role("button", name="创建").click()
    page.wait_for_url("**/admin/draws/*")
    seed_hash = page.locator("#seed-hash").inner_text()
    assert len(seed_hash) == 64 and page.locator("#status").inner_text() == "进行中"

    with live_app.app_context():
        for n, phone in enumerate(PHONES):
            with unit_of_work():
                handle_message(Message("sms", phone, "抽奖", f"SMdraw{n}", dt.datetime.now(dt.UTC)))
        db.session.remove()
    page.reload()
    assert page.locator("#entries").inner_text() == "6"

    page.get_by_role("button", name="立即结束并抽出中奖者").click()
    page.wait_for_url("**?done=closed")
    assert page.locator("#status").inner_text() == "已结束"
    assert page.locator("#seed-hash").inner_text() == seed_hash
    assert page.locator("#verify").get_attribute("data-ok") == "yes"
    assert page.locator("#winners tbody tr").count() == 3
    assert page.locator("#winners tbody").inner_text().count("代金券") == 2
    with live_app.app_context():
        report = services.get_draw(int(page.url.split("/draws/")[1].split("?")[0]))
        assert report.seed is not None
        assert page.locator("#seed").inner_text() == report.seed.hex()
        db.session.remove()
    screenshot(page, f"admin-draw-{backend['name']}")


def test_a_marketer_watches_a_vote(
    page: Any, live_server: str, marketer: None, live_app: Flask, backend: Any
) -> None:
    _sign_in(page, live_server)
    page.goto(live_server + "/admin/votes/new")
    page.fill("input[name=title]", "新品投票")
    page.fill("textarea[name=options]", "A=红豆奶茶\nB=抹茶拿铁")
    page.get_by_role("button", name="创建").click()
    page.wait_for_url("**/admin/votes/*")
    with live_app.app_context():
        for n, phone in enumerate(PHONES):
            with unit_of_work():
                handle_message(
                    Message(
                        "sms", phone, f"投票 {'AB'[n % 3 == 0]}", f"SMv{n}", dt.datetime.now(dt.UTC)
                    )
                )
        db.session.remove()
    page.reload()
    assert page.locator("#total").inner_text() == "6"
    assert page.locator('tr[data-option="A"] .votes').inner_text() == "4"
    assert page.locator('tr[data-option="B"] .votes').inner_text() == "2"
    screenshot(page, f"admin-vote-{backend['name']}")
