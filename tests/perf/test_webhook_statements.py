"""What one SMS costs in statements, so a change that adds round trips is seen.

One path for every message (``app.messaging.inbound``): the claim, the engine's reads
through the services, the reply stored on the claimed row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event

from app.cards.services import member_cards
from app.clock import frozen
from app.db import db
from app.db.prepared import observed
from app.texts.services import preload as preload_texts
from tests.bot.support import give_points
from tests.sms.support import inbound_params, post_signed, twilio_settings

pytestmark = pytest.mark.perf

PHONE = "+8613800138000"
CST = dt.timezone(dt.timedelta(hours=8))


@pytest.fixture
def app_config() -> dict[str, Any]:
    return twilio_settings()


def _statements_of(app: Flask, send: Callable[[], Any]) -> tuple[Any, list[str]]:
    """``send()``'s result and its SQL, but the savepoints of the outer transaction."""
    with app.app_context():
        engine = db.engine
        # The shop's own texts are read once per CACHE_SECONDS in a process, not per
        # message (tests/texts/test_overrides.py pins that read): a warm process's cost.
        preload_texts()
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", record)
    try:
        # The hot statements on the driver's cursor (app.db.prepared) pass no event.
        with observed(lambda sql: seen.append(" ".join(sql.split()))):
            result = send()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return result, [s for s in seen if "SAVEPOINT" not in s]


@pytest.mark.parametrize("reply_first", [True, False], ids=["reply-first", "claim-first"])
def test_points_costs_three_statements_or_four_claimed_first(
    app: Flask, client: FlaskClient, make_member: Any, make_level: Any, reply_first: bool
) -> None:
    app.config["INBOUND_REPLY_FIRST"] = reply_first
    member = make_member(PHONE, language="zh-Hans")
    member.level = make_level("金卡", 3)
    with frozen(dt.datetime(2026, 12, 1, 10, 0, tzinfo=CST)):
        give_points(member_cards(member)[0], 1080)
        db.session.flush()
        db.session.expunge_all()
        response, statements = _statements_of(
            app, lambda: post_signed(client, "/sms/twilio", inbound_params(PHONE, "JF", "SMp1"))
        )
    assert response.status_code == 200 and "1,080" in response.get_data(as_text=True)
    if reply_first:
        # The member's profile (language, level, opt-out), the points summary, then the
        # claim with the reply.
        assert statements[-1].startswith("INSERT INTO inbound_message")
        assert len(statements) == 3, statements
    else:
        # The claim, the profile, the points summary, the reply.
        assert statements[0].startswith("INSERT INTO inbound_message")
        assert statements[-1].startswith("UPDATE inbound_message")
        assert len(statements) == 4, statements


def test_a_replay_claimed_first_costs_two_statements(
    app: Flask, client: FlaskClient, make_member: Any
) -> None:
    app.config["INBOUND_REPLY_FIRST"] = False
    make_member(PHONE, language="zh-Hans")
    params = inbound_params(PHONE, "JF", "SMp2")
    first = post_signed(client, "/sms/twilio", params)
    replay, statements = _statements_of(app, lambda: post_signed(client, "/sms/twilio", params))
    assert replay.get_data() == first.get_data()
    assert len(statements) == 2, statements  # the claim that finds the row, its stored reply
