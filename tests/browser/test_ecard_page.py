"""The e-card page on a phone-sized screen: the QR code, the code in digits, the card's last
four digits, and a new code a minute later without a reload."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from app import clock
from app.db import db, unit_of_work
from tests.browser.conftest import screenshot

pytestmark = pytest.mark.concurrent

#: Two seconds before a minute ends, so the page's countdown reaches the next code quickly.
T0 = dt.datetime(2027, 3, 1, 10, 0, 58, tzinfo=dt.UTC)


@pytest.fixture
def phone_page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(
        locale="zh-CN", viewport={"width": 390, "height": 844}, device_scale_factor=2
    )
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


def _grouped(code: str) -> str:
    return " ".join(code[i : i + 4] for i in range(0, len(code), 4))


def test_the_ecard_page_shows_the_code_and_renews_it(
    phone_page: Any, live_server: str, live_app: Flask, backend: Any
) -> None:
    from app.cards.ecard import code_for, link_token, lookup_code
    from app.cards.services import enroll, member_cards
    from app.stores.services import create_store

    with unit_of_work():
        create_store("SH01", "静安店", "East")
        member = enroll({"phone": "+8613700000077", "home_store": "SH01", "name": "林小红"})
        card = member_cards(member)[0]
        card_id, number = card.id, card.number
    db.session.remove()

    page = phone_page
    with clock.frozen(T0):
        token = link_token(card)
        first = code_for(card_id)
        page.goto(f"{live_server}/wechat/ecard/{token}")
        assert page.title() == "我的电子会员卡"
        assert page.locator("#digits").inner_text() == _grouped(first)
        assert page.locator("#card-no").inner_text() == f"尾号 {number[-4:]} 的卡"
        assert page.locator("#qr svg").count() == 1
        box = page.locator("#qr svg").bounding_box()
        assert box["width"] > 200 and abs(box["width"] - box["height"]) < 2
        assert number not in page.content()
        screenshot(page, f"ecard-{backend['name']}")

    with clock.frozen(T0 + dt.timedelta(seconds=3)):
        second = code_for(card_id)
        assert second != first
        # The countdown reaches zero and the page asks for the new code, with no reload.
        page.wait_for_function(
            "expected => document.getElementById('digits').textContent === expected",
            arg=_grouped(second),
            timeout=10_000,
        )
        assert page.locator("#qr svg").count() == 1
        assert lookup_code(second).card is not None
        screenshot(page, f"ecard-renewed-{backend['name']}")
