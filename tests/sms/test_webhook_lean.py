"""The webhook's hot path stays lean: what one JF costs in statements, not only its reply."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event

from app.clock import frozen
from app.db import db
from app.ledger.prepared import observed
from app.members.services import member_cards
from tests.bot.support import give_points
from tests.sms.support import inbound_params, post_signed, twilio_settings

PHONE = "+8613800138000"
CST = dt.timezone(dt.timedelta(hours=8))


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


def test_points_looks_the_sender_up_once(
    app: Flask, client: FlaskClient, make_member: Any, make_level: Any
) -> None:
    member = make_member(PHONE, language="zh-Hans")
    member.level = make_level("金卡", 3)
    card = member_cards(member)[0]
    with frozen(dt.datetime(2026, 12, 1, 10, 0, tzinfo=CST)):
        give_points(card, 1080)
        give_points(card, 200, expires_on=dt.date(2027, 1, 31))
        response, statements = _statements_of(
            app,
            lambda: post_signed(client, "/sms/twilio", inbound_params(PHONE, "JF", "SMlean1")),
        )
    assert "您的积分：1,280 分，金卡会员。200 分将于 2027-01-31 到期。" in response.get_data(
        as_text=True
    )
    lookups = [s for s in statements if "member.phone =" in s]
    assert len(lookups) == 1
    # Points, level and next expiry come with the sender, in one statement.
    assert [s for s in statements if "ledger_account" in s] == lookups
    if db.engine.dialect.name == "postgresql":
        # The dedupe claim carries the lookup and the points: the claim and the reply.
        assert lookups[0].startswith("WITH claim AS (INSERT INTO inbound_message")
        # (The test's outer transaction adds a savepoint around the request.)
        assert len([s for s in statements if "SAVEPOINT" not in s]) == 2
    assert len([s for s in statements if "inbound_message" in s]) == 2  # claim, reply


def test_replayed_points_runs_no_command(app: Flask, client: FlaskClient, make_member: Any) -> None:
    make_member(PHONE, language="zh-Hans")
    params = inbound_params(PHONE, "JF", "SMlean2")
    first = post_signed(client, "/sms/twilio", params)
    replay, statements = _statements_of(app, lambda: post_signed(client, "/sms/twilio", params))
    assert replay.get_data() == first.get_data()
    # The claim finds the twin (its sender and points columns have no row to read from);
    # nothing else reads the ledger, and no reply is written.
    claim = "INSERT INTO inbound_message"
    assert not any("ledger_account" in s and claim not in s for s in statements)
    assert not any(s.startswith("UPDATE inbound_message") for s in statements)


def test_a_strangers_message_is_one_lookup_too(app: Flask, client: FlaskClient) -> None:
    response, statements = _statements_of(
        app,
        lambda: post_signed(client, "/sms/twilio", inbound_params(PHONE, "POINTS", "SMlean3")),
    )
    assert "JOIN" in response.get_data(as_text=True)
    assert len([s for s in statements if "opt_out.address =" in s]) == 1
