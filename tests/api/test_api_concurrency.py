"""Two joins with the same phone at the same moment: one member, and a 409 for the other."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from app.auth.services import create_api_key
from app.db import db
from app.members.models import Member
from app.signals import member_joined
from app.stores.services import create_store


@pytest.mark.concurrent
def test_simultaneous_joins_with_one_phone(live_app: Flask) -> None:
    with live_app.app_context():
        _key, secret = create_api_key(create_store("SH01", "Store SH01", "East"))
        db.session.commit()
    headers = {"Authorization": f"Bearer {secret}"}
    first_flushed = threading.Event()
    answers: dict[str, Any] = {}

    def hold_the_first(sender: Member, **_: Any) -> None:
        # The first join has inserted its row but not committed: the second
        # request's duplicate check cannot see it and it goes on to insert too.
        if not first_flushed.is_set():
            first_flushed.set()
            time.sleep(0.3)

    def join(name: str, phone: str) -> None:
        response = live_app.test_client().post(
            "/api/v1/members", json={"phone": phone, "home_store": "SH01"}, headers=headers
        )
        answers[name] = (response.status_code, response.json)

    with member_joined.connected_to(hold_the_first):
        first = threading.Thread(target=join, args=("first", "13800138000"))
        first.start()
        assert first_flushed.wait(10)
        second = threading.Thread(target=join, args=("second", "+86 138 0013 8000"))
        second.start()
        first.join(10)
        second.join(10)

    assert answers["first"][0] == 201
    assert answers["second"] == (
        409,
        {
            "error": {
                "code": "duplicate_member",
                "message": "+8613800138000 is already a member",
                "details": {"phone": "+8613800138000"},
            }
        },
    )
    with live_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Member)) == 1
