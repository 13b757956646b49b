"""Message texts in a real browser: change the checkout alert's Chinese wording, watch the
preview follow the typing, and see the next API checkout queue the new wording."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from app.db import db, unit_of_work
from app.messaging.alerts import TRANSACTION_TEXTS
from app.messaging.models import OutboxMessage
from app.texts.services import msgid_key
from tests.browser.conftest import screenshot
from tests.browser.test_admin import PASSWORD, sign_in

pytestmark = pytest.mark.concurrent

KEY = msgid_key(TRANSACTION_TEXTS["checkout"])
MINE = (
    "【老友】尾号%(last4)s的卡在%(store)s消费%(amount)s元（%(time)s），"
    "余额%(balance)s元，积分%(points)s，共%(points_total)s分。"
)


@pytest.fixture
def shop(live_app: Flask) -> str:
    """A store, a Chinese-speaking member, an admin and the store's API key (returned)."""
    from app.auth.services import create_api_key, create_staff
    from app.cards.services import enroll
    from app.stores.services import create_store

    with unit_of_work():
        store = create_store("SH01", "静安店", "华东")
        enroll(
            {"phone": "+8613700000001", "home_store": "SH01", "name": "会员", "language": "zh-Hans"}
        )
        create_staff("boss", PASSWORD, role="admin", display_name="王老板")
        _key, secret = create_api_key(store)
    db.session.remove()
    return secret


def _api(page: Any, base: str, secret: str, path: str, body: dict[str, Any], key: str) -> Any:
    response = page.request.post(
        base + path,
        data=body,
        headers={"Authorization": f"Bearer {secret}", "Idempotency-Key": key},
    )
    assert response.status == 201, response.text()
    return response.json()


def test_a_changed_checkout_alert_is_previewed_then_queued_at_the_next_checkout(
    page: Any, live_server: str, shop: str, backend: Any
) -> None:
    sign_in(page, live_server, "boss")
    page.wait_for_url(live_server + "/admin/")
    page.get_by_role("navigation").get_by_role("link", name="消息文案").click()
    page.wait_for_url("**/admin/texts")
    assert page.get_by_role("heading", name="提醒").is_visible()
    screenshot(page, f"admin-texts-zh-Hans-{backend['name']}", full_page=False)

    page.locator(f"#text-{KEY}").get_by_role("link", name="编辑").click()
    page.wait_for_url(f"**/admin/texts/{KEY}")
    section = page.locator("section#zh-Hans")
    preview = section.locator("[data-shown]")
    problem = section.locator("[data-problem]")

    # Dropping a placeholder: the preview says what is missing before anything is saved.
    section.locator("textarea").fill("【老友】消费%(amount)s元")
    problem.get_by_text("缺少占位符").wait_for()
    assert "%(balance)s" in problem.inner_text()
    screenshot(page, f"admin-text-refused-{backend['name']}")

    section.locator("textarea").fill("")
    section.locator("textarea").type(MINE, delay=1)
    page.wait_for_function(
        "el => el.textContent.startsWith('【老友】尾号8888的卡在静安店消费128.00元')",
        arg=preview.element_handle(),
    )
    assert problem.is_hidden()
    assert preview.inner_text() == (
        "【老友】尾号8888的卡在静安店消费128.00元（12-07 14:30），"
        "余额372.00元，积分+128，共1024分。"
    )
    screenshot(page, f"admin-text-preview-{backend['name']}")
    section.get_by_role("button", name="保存").click()
    page.get_by_role("status").get_by_text("已保存。").wait_for()
    assert "已修改" in page.locator("section#zh-Hans h2").inner_text()

    _api(
        page,
        live_server,
        shop,
        "/api/v1/cards/13700000001/recharge",
        {"amount_fen": 100_000, "store": "SH01"},
        "r1",
    )
    sold = _api(
        page,
        live_server,
        shop,
        "/api/v1/checkout",
        {"card": "13700000001", "store": "SH01", "amount_fen": 4_250, "pay_with": "stored_value"},
        "c1",
    )

    from app.cards.services import find_card

    card = find_card("13700000001")
    assert card is not None
    bodies = list(
        db.session.scalars(
            select(OutboxMessage.body)
            .where(OutboxMessage.alert_type == "transaction")
            .order_by(OutboxMessage.id)
        )
    )
    assert len(bodies) == 2
    assert bodies[1].startswith(f"【老友】尾号{card.number[-4:]}的卡在静安店消费42.50元（")
    assert f"余额{sold['balances']['stored_value_fen'] // 100}.50元" in bodies[1]
    db.session.remove()

    # The list in the other languages: the change is marked in the Chinese column.
    for language, heading in (("zh-Hant", "訊息文案"), ("en", "Message texts")):
        page.goto(live_server + "/admin/texts")
        with page.expect_navigation():
            page.locator("select[name=language]").select_option(language)
        page.get_by_role("heading", level=1, name=heading).wait_for()
        screenshot(page, f"admin-texts-{language}-{backend['name']}", full_page=False)
    assert "【老友】尾号" in page.locator(f"#text-{KEY}").inner_text()


def test_the_text_pages_fit_a_tablet(
    browser: Any, live_server: str, shop: str, backend: Any
) -> None:
    tablet = browser.new_context(locale="zh-CN", viewport={"width": 768, "height": 1024})
    try:
        page = tablet.new_page()
        sign_in(page, live_server, "boss")
        page.wait_for_url(live_server + "/admin/")
        for path in ("/admin/texts", f"/admin/texts/{KEY}"):
            page.goto(live_server + path)
            assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
        screenshot(page, f"admin-tablet-text-{backend['name']}")
    finally:
        tablet.close()
