"""The counter page in Chromium: sign in, a scanner types a card number, check out, the
receipt reaches the printer; a swipe pushed by the devices; offline and back."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from app.campaigns import promotions
from app.campaigns.promotions import PromotionTerms
from app.db import db
from app.store_station.counter.events import IncomingCall, Swiped
from app.store_station.counter.station import Station, create_station_app
from tests.browser.conftest import screenshot
from tests.store_station.counter.conftest import (
    PASSWORD,
    CentralServer,
    TcpPrinter,
    World,
    make_station,
    running_printer,
    set_up_world,
)


@pytest.fixture
def counter_page(
    live_app: Flask, tmp_path: Path
) -> Iterator[tuple[str, Station, CentralServer, World, TcpPrinter]]:
    world = set_up_world(live_app)
    central = CentralServer(live_app)
    central.start()
    with running_printer() as printer:
        station = make_station(central, world.key, printer.port, tmp_path / "queue.sqlite3")
        station.start()
        server = make_server("127.0.0.1", 0, create_station_app(station), threaded=True)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_port}", station, central, world, printer
        finally:
            server.shutdown()
            thread.join()
            station.stop()
            station.queue.close()
            central.stop()


def sign_in(page: Any, url: str) -> None:
    """Alice signs in on the counter page; the counter shows."""
    page.goto(url + "/")
    page.fill("#username", "alice")
    page.fill("#password", PASSWORD)
    page.click("#signin-form button[type=submit]")
    page.wait_for_selector("#counter:not(.hidden)")


def test_sign_in_scan_check_out_and_the_receipt_prints(page: Any, counter_page: Any) -> None:
    url, station, _central, world, printer = counter_page
    sign_in(page, url)
    assert page.locator("#who").inner_text() == "Alice"
    # A keyboard-wedge scanner types into the focused field and ends with Enter.
    assert page.evaluate("document.activeElement.id") == "ref"
    page.keyboard.type(world.card_number)
    page.keyboard.press("Enter")
    page.wait_for_selector("#member:not(.hidden)")
    assert page.locator("#m-phone").inner_text() == "138****8000"
    assert page.locator("#m-sv").inner_text() == "¥200.00 (充值金额 ¥200.00 · 赠送 ¥0.00)"
    page.fill("#amount", "100")
    page.click("#quote-button")
    page.wait_for_selector("#quote:not(.hidden)")
    assert "实付 ¥98.00" in page.locator("#quote").inner_text()
    screenshot(page, "station_quote")
    page.click("#checkout-button")
    page.wait_for_function("document.getElementById('message').className === 'ok'")
    assert "已付" in page.locator("#message").inner_text()
    page.wait_for_function("document.getElementById('m-points').textContent === '198'")
    receipt = printer.wait_for(1)[0]
    assert "消费小票".encode("gb18030") in receipt
    assert b"\x1bp" in receipt  # cash: the drawer kick
    screenshot(page, "station_sold")

    # Items with categories make the amount; 100 points pay 1 yuan of it.
    page.fill("#line-name", "Latte")
    page.fill("#line-category", "drinks")
    page.fill("#line-amount", "30")
    page.click("#line-add")
    page.fill("#line-name", "蛋糕")
    page.fill("#line-amount", "20.50")
    page.click("#line-add")
    assert page.locator("#amount").input_value() == "50.50"
    page.fill("#points-offset", "100")
    page.click("#quote-button")
    page.wait_for_selector("#quote:not(.hidden)")
    assert "points_offset" in page.locator("#quote").inner_text()
    screenshot(page, "station_items_quote")
    page.click("#checkout-button")
    page.wait_for_function("document.getElementById('amount').value === ''")
    receipt = printer.wait_for(2)[-1]
    assert "蛋糕".encode("gb18030") in receipt and b"Latte" in receipt
    assert "积分".encode("gb18030") in receipt  # the points payment line

    # A swipe on the stripe reader: the station pushes it to the page, which looks it up.
    page.fill("#ref", "")
    page.locator("#member").evaluate("e => e.classList.add('hidden')")
    station.devices.events.put(Swiped(card_number=world.card_number, expiry="2512"))
    # The member box may show first from the sale's refresh still in flight: wait for the
    # swipe's number in the field, then for the box.
    page.wait_for_function("n => document.getElementById('ref').value === n", arg=world.card_number)
    page.wait_for_selector("#member:not(.hidden)")
    assert page.locator("#ref").input_value() == world.card_number

    # Caller ID (来电识别): the calling member pops up.
    page.locator("#member").evaluate("e => e.classList.add('hidden')")
    station.devices.events.put(IncomingCall(number="13800138000"))
    page.wait_for_selector("#member:not(.hidden)")
    # The member box may show first from a refresh still in flight: wait for the call's line.
    page.wait_for_function("document.getElementById('message').textContent.includes('来电')")
    assert page.locator("#m-phone").inner_text() == "138****8000"
    screenshot(page, "station_caller_id")


def test_todays_promotions_appear_on_lookup_and_in_the_quote(page: Any, counter_page: Any) -> None:
    url, _station, _central, world, _printer = counter_page
    now = dt.datetime.now(dt.UTC)
    promotions.create_promotion(
        PromotionTerms(
            names={"zh-Hans": "双倍积分周", "en": "Double points week"},
            starts_at=now - dt.timedelta(hours=1),
            ends_at=now + dt.timedelta(days=2),
            multiplier_bp=20000,
            bonus_points=8,
        )
    )
    db.session.commit()
    sign_in(page, url)
    page.keyboard.type(world.card_number)
    page.keyboard.press("Enter")
    page.wait_for_selector("#member:not(.hidden)")
    listed = page.locator("#m-promotions li").all_inner_texts()
    assert len(listed) == 1 and listed[0].startswith("双倍积分周: 2倍积分, 赠送8积分 (截至 20")
    page.fill("#amount", "100")
    page.click("#quote-button")
    page.wait_for_selector("#quote:not(.hidden)")
    quote = page.locator("#quote").inner_text()
    # ¥98 charged: 98 points, +98 for 2×, +8 bonus.
    assert "实付 ¥98.00" in quote and "204" in quote and "双倍积分周 +106" in quote
    screenshot(page, "station_promotions")


def test_the_offline_banner_and_back(page: Any, counter_page: Any) -> None:
    url, station, central, world, printer = counter_page
    sign_in(page, url)
    assert not page.locator("#banner").is_visible()
    central.stop()
    page.fill("#ref", world.card_number)
    page.fill("#amount", "30")
    page.click("#checkout-button")
    page.wait_for_function("document.getElementById('message').textContent.includes('交易已保存')")
    page.wait_for_selector("#banner.show")
    assert "离线" in page.locator("#banner").inner_text()
    assert "(1)" in page.locator("#queued").inner_text()
    printer.wait_for(1)
    page.select_option("#pay-with", "stored_value")
    page.fill("#amount", "30")
    page.click("#checkout-button")
    page.wait_for_function("document.getElementById('message').textContent.includes('只能收现金')")
    screenshot(page, "station_offline")
    central.start()
    # The background sync finds the service, sends the sale; the page's poll drops the banner.
    page.wait_for_selector("#banner:not(.show)", state="hidden", timeout=15000)
    deadline = time.monotonic() + 10
    while station.queue.count_pending() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert station.queue.count_pending() == 0
    screenshot(page, "station_back_online")


def test_stored_value_plus_cash_at_the_counter(page: Any, counter_page: Any) -> None:
    """The card's 200.00 pays first (prefilled), cash pays the rest; change and receipt."""
    url, _station, _central, world, printer = counter_page
    sign_in(page, url)
    page.keyboard.type(world.card_number)
    page.keyboard.press("Enter")
    page.wait_for_selector("#member:not(.hidden)")
    page.fill("#amount", "300")
    assert not page.locator("#split-sv").is_visible()
    page.select_option("#pay-with", "split")
    assert page.locator("#split-sv").input_value() == "200.00"  # all the card holds
    page.click("#quote-button")
    page.wait_for_selector("#quote:not(.hidden)")
    quote = page.locator("#quote").inner_text()
    assert "实付 ¥294.00" in quote and "储值 ¥200.00 + 现金 ¥94.00" in quote
    page.fill("#tendered", "100")
    screenshot(page, "station_split_quote")
    page.click("#checkout-button")
    page.wait_for_function("document.getElementById('message').className === 'ok'")
    message = page.locator("#message").inner_text()
    assert "储值 ¥200.00 + 现金 ¥94.00" in message and "找零 ¥6.00" in message
    page.wait_for_function("document.getElementById('m-sv').textContent.startsWith('¥0.00')")
    receipt = printer.wait_for(1)[0].decode("gb18030")
    assert "储值" in receipt and "200.00" in receipt and "94.00" in receipt
    assert "实收现金" in receipt and "找零" in receipt
    assert "\x1bp" in receipt  # cash taken: the drawer opens
    screenshot(page, "station_split_sold")
