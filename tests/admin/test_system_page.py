"""The system page: the database, the outbox, the latest changes and job runs on one page."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Flask

from app import clock
from app.db import db
from app.messaging.services import enqueue
from scheduler.services import run_now


def _tile(page: str, name: str) -> str:
    return page.split(f'id="{name}">')[1].split("<")[0]


def test_an_admin_reads_the_state_of_the_service(app: Flask, signed_in: Any) -> None:
    admin = signed_in("admin", username="boss", language="en")
    with clock.frozen(clock.now() - dt.timedelta(minutes=5)):
        enqueue(address="+8613800000001", body="hello", kind="system")
    enqueue(address="+8613800000002", body="hello", kind="system")
    db.session.commit()
    run_now("ledger_check", as_of=dt.date(2026, 12, 1), trigger="cli")

    page = admin.get("/admin/system")

    assert page.status_code == 200
    text = page.text
    assert _tile(text, "database") == "Reachable"
    assert _tile(text, "queued") == "2" and _tile(text, "failed") == "0"
    assert 290 <= int(_tile(text, "lag")) <= 400  # the older message has waited five minutes
    runs = text.split('<table id="runs">')[1].split("</table>")[0]
    assert "<code>ledger_check</code>" in runs and 'data-outcome="ok"' in runs
    changes = text.split('<table id="changes">')[1].split("</table>")[0]
    assert "staff.create" in changes  # the fixture made boss through the audited service


def test_a_store_manager_and_a_marketer_are_refused(signed_in: Any, make_store: Any) -> None:
    make_store("SH01")
    assert signed_in("marketer").get("/admin/system").status_code == 403
    assert signed_in("store_manager", store="SH01").get("/admin/system").status_code == 403
