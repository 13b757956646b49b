"""The Jobs page in a real browser: an admin runs the nightly ledger check now and reads it."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from app.db import db, unit_of_work
from tests.browser.conftest import screenshot

pytestmark = pytest.mark.concurrent

PASSWORD = "correct horse battery"


@pytest.fixture
def admin(live_app: Flask) -> None:
    from app.auth.services import create_staff
    from app.cards.services import enroll
    from app.stores.services import create_store

    with unit_of_work():
        create_store("SH01", "静安店", "华东")
        enroll({"phone": "+8613700000011", "home_store": "SH01", "name": "会员"})
        create_staff("boss", PASSWORD, role="admin", display_name="王老板")
    db.session.remove()


def test_an_admin_runs_the_ledger_check_now_and_sees_the_run(
    page: Any, live_server: str, admin: None, backend: Any
) -> None:
    page.goto(live_server + "/admin/login")
    page.fill("input[name=username]", "boss")
    page.fill("input[name=password]", PASSWORD)
    page.locator("form.stack button").click()
    page.wait_for_url(live_server + "/admin/")
    page.get_by_role("navigation").get_by_role("link", name="定时任务").click()
    page.wait_for_url("**/admin/jobs")

    row = page.locator('tr[data-job="ledger_check"]')
    assert "每天 02:00" in row.inner_text()
    assert "从未运行" in row.inner_text()
    row.locator("input[name=as_of]").fill("2026-12-07")
    row.get_by_role("button", name="立即运行").click()
    page.wait_for_url("**/admin/jobs?ran=ledger_check")

    status = page.get_by_role("status")
    assert "已运行 ledger_check：成功。" in status.inner_text()
    assert "accounts" in status.inner_text()
    runs = page.locator("#runs tbody tr")
    assert runs.count() == 1
    assert "2026-12-07 02:00" in runs.first.inner_text()
    assert "管理后台" in runs.first.inner_text()
    assert "成功" in page.locator('tr[data-job="ledger_check"]').inner_text()
    screenshot(page, f"admin-jobs-{backend['name']}")


def test_the_system_page_shows_the_run_beside_the_latest_changes(
    page: Any, live_server: str, admin: None, backend: Any
) -> None:
    page.goto(live_server + "/admin/login")
    page.fill("input[name=username]", "boss")
    page.fill("input[name=password]", PASSWORD)
    page.locator("form.stack button").click()
    page.wait_for_url(live_server + "/admin/")
    page.goto(live_server + "/admin/jobs")
    page.locator('tr[data-job="ledger_check"]').get_by_role("button", name="立即运行").click()
    page.wait_for_url("**/admin/jobs?ran=ledger_check")

    page.get_by_role("navigation").get_by_role("link", name="系统").click()
    page.wait_for_url("**/admin/system")

    assert page.locator("#database").inner_text() == "正常"
    assert "ledger_check" in page.locator("#runs tbody").inner_text()
    assert "job.run" in page.locator("#changes tbody").inner_text()  # the run now, audited
    screenshot(page, f"admin-system-{backend['name']}")
