"""The webhook's hot path stays lean: what one JF costs in statements, not only its reply."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event

from app.db import db
from app.ledger.prepared import observed
from tests.sms.support import inbound_params, post_signed, twilio_settings

PHONE = "+8613800138000"


@pytest.fixture
def app_config() -> dict[str, Any]:
    return twilio_settings()


def _statements_of(app: Flask, send: Any) -> tuple[Any, list[str]]:
    with app.app_context():
        engine = db.engine
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", record)
    try:
        with observed(lambda sql: seen.append(" ".join(sql.split()))):
            result = send()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return result, seen


def test_points_looks_the_sender_up_once(app: Flask, client: FlaskClient, make_member: Any) -> None:
    make_member(PHONE, language="zh-Hans")
    response, statements = _statements_of(
        app, lambda: post_signed(client, "/sms/twilio", inbound_params(PHONE, "JF", "SMlean1"))
    )
    assert "您的积分：0 分。" in response.get_data(as_text=True)
    lookups = [s for s in statements if "member.phone =" in s]
    assert len(lookups) == 1
    if db.engine.dialect.name == "postgresql":
        # The dedupe claim carries the lookup: one round trip for both.
        assert lookups[0].startswith("WITH claim AS (INSERT INTO inbound_message")
    assert len([s for s in statements if "inbound_message" in s]) == 2  # claim, reply
    # Points, level and next expiry come from one ledger read.
    assert len([s for s in statements if "ledger_account" in s]) == 1


def test_replayed_points_runs_no_command(app: Flask, client: FlaskClient, make_member: Any) -> None:
    make_member(PHONE, language="zh-Hans")
    params = inbound_params(PHONE, "JF", "SMlean2")
    first = post_signed(client, "/sms/twilio", params)
    replay, statements = _statements_of(app, lambda: post_signed(client, "/sms/twilio", params))
    assert replay.get_data() == first.get_data()
    assert not any("ledger_account" in s for s in statements)


def test_a_strangers_message_is_one_lookup_too(app: Flask, client: FlaskClient) -> None:
    response, statements = _statements_of(
        app,
        lambda: post_signed(client, "/sms/twilio", inbound_params(PHONE, "POINTS", "SMlean3")),
    )
    assert "JOIN" in response.get_data(as_text=True)
    assert len([s for s in statements if "opt_out.address =" in s]) == 1
