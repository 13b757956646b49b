"""Reports in a real browser: two reports drawn with their charts, and a CSV downloaded."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from flask import Flask

from app.db import db, unit_of_work
from tests.browser.conftest import screenshot
from tests.browser.test_admin import PASSWORD, sign_in
from tests.reports.shop import build

pytestmark = pytest.mark.concurrent

#: Pixels of the chart's canvas that are drawn on (a blank canvas has none).
DRAWN = (
    "c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
    " let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++; return n; }"
)


@pytest.fixture
def reports_chain(live_app: Flask) -> None:
    """The hand-worked chain of tests/reports/shop.py, committed for the server."""
    from app.auth.services import create_staff
    from app.cards.services import enroll
    from app.stores.services import create_store

    def make_store(code: str, name: str, region: str) -> Any:
        return create_store(code, name, region)

    def make_member(phone: str, **fields: Any) -> Any:
        return enroll({"phone": phone, **fields})

    with unit_of_work():
        build(make_store, make_member)
        create_staff("boss", PASSWORD, role="admin", display_name="王老板")
    db.session.remove()
    # And one recharge today, for the dashboard.
    from app.cards.services import find_card
    from app.ledger.operations import recharge
    from app.stores.services import get_store

    with unit_of_work():
        card = find_card("+8613800000002")  # B of shop.py
        assert card is not None
        recharge(card, get_store("SH01"), 20000, key="browser-today", actor="test")
    db.session.remove()


def _open(page: Any, base: str, title: str, dates: tuple[str, str]) -> None:
    page.goto(base + "/admin/reports")
    page.get_by_role("link", name=title).click()
    page.fill("input[name=from]", dates[0])
    page.fill("input[name=to]", dates[1])
    page.get_by_role("button", name="查询").click()
    page.wait_for_selector("canvas#report-chart[data-drawn=yes]")


def test_two_reports_draw_their_charts_and_a_csv_downloads(
    page: Any, live_server: str, reports_chain: None, backend: Any
) -> None:
    sign_in(page, live_server, "boss")
    page.wait_for_url(live_server + "/admin/")
    recharges = page.locator("#today-recharges").inner_text().split()
    assert recharges == ["充值", "1", "充值", "200.00", "元"]
    screenshot(page, f"report-dashboard-{backend['name']}")
    page.get_by_role("navigation").get_by_role("link", name="报表", exact=True).click()
    page.wait_for_url("**/admin/reports")

    _open(page, live_server, "消费排行", ("2026-03-01", "2026-03-31"))
    assert page.get_by_role("heading", level=1).inner_text() == "消费排行"
    assert page.locator("#report-table tbody tr").first.inner_text().split("\t")[:2] == [
        "1",
        "张伟",
    ]
    assert page.locator("canvas#report-chart").evaluate(DRAWN) > 1000
    screenshot(page, f"report-top-spenders-{backend['name']}")

    with page.expect_download() as download:
        page.locator("#csv-link").click()
    saved = download.value
    assert saved.suggested_filename == "top-spenders-20260301-20260331.csv"
    with open(saved.path(), "rb") as f:
        body = f.read()
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))
    assert rows[0][:2] == ["排名", "姓名"]
    assert [row[1] for row in rows[1:]] == ["张伟", "王芳", "李雷"]
    assert [row[-1] for row in rows[1:]] == ["200.00", "120.00", "80.00"]

    _open(page, live_server, "会员增长趋势", ("2026-02-15", "2026-03-31"))
    assert page.locator("#summary .tile").last.inner_text().split() == ["期末会员数", "7"]
    assert page.locator("canvas#report-chart").evaluate(DRAWN) > 1000
    screenshot(page, f"report-member-trend-{backend['name']}")

    _open(page, live_server, "会员分析", ("2026-03-01", "2026-03-31"))
    assert "上海" in page.locator("#report-table").inner_text()
    screenshot(page, f"report-members-{backend['name']}")
