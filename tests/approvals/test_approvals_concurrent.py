"""Two admins approve one request at the same moment: it is applied once."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from flask import Flask

from app.approvals.services import approve, get_request, register_kind, request_approval
from app.auth.services import create_staff, find_staff
from app.db import db, unit_of_work
from app.errors import AlreadyDecided


@pytest.mark.concurrent
def test_simultaneous_approvals_apply_once(live_app: Flask) -> None:
    applied: list[str] = []
    first_inside = threading.Event()

    def handler(payload: dict[str, Any], requester: Any, approver: Any) -> dict[str, Any]:
        applied.append(approver.username)
        first_inside.set()
        time.sleep(0.3)  # the other approval arrives while this one holds the row
        return {}

    register_kind(live_app, "slow_change", handler)
    with live_app.app_context(), unit_of_work():
        asker = create_staff("asker", "a long enough password", role="admin")
        for name in ("boss1", "boss2"):
            create_staff(name, "a long enough password", role="admin")
        request_id = request_approval("slow_change", {}, asker).id
    outcomes: dict[str, str] = {}

    def decide(name: str) -> None:
        with live_app.app_context():
            try:
                with unit_of_work():
                    approve(request_id, find_staff(name))
                outcomes[name] = "approved"
            except AlreadyDecided:
                outcomes[name] = "already decided"

    first = threading.Thread(target=decide, args=("boss1",))
    first.start()
    assert first_inside.wait(10)
    second = threading.Thread(target=decide, args=("boss2",))
    second.start()
    first.join(10)
    second.join(10)

    assert outcomes == {"boss1": "approved", "boss2": "already decided"}
    assert applied == ["boss1"]
    with live_app.app_context():
        req = get_request(request_id)
        assert req is not None and req.status == "approved"
        assert req.decided_by.username == "boss1"
        db.session.remove()
