"""One inbound path for every command: claim the provider id, run the engine, store the reply.

Plain path (``INBOUND_REPLY_FIRST`` off): read-only answers (POINTS, BAL, HELP,
anything not understood) go the same way as commands that write: the message is
claimed before the engine runs, so a retried webhook gets the first reply and the
engine never runs twice for one provider id. With the setting on (the default) a
read-only answer is computed first and claimed with its reply in one statement: a
retry still gets the first reply and changes nothing; commands that write are
claimed first either way.
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.bot import engine as bot_engine
from app.bot.message import Message, Reply
from app.cards.services import enroll, member_cards
from app.db import Base, db, unit_of_work
from app.db.prepared import observed
from app.ledger.journal import credit_points
from app.messaging.models import InboundMessage
from app.stores.services import create_store
from tests.bot.support import give_points
from tests.sms.support import inbound_params, post_signed, twilio_settings

PHONE = "+8613800138000"
CST = dt.timezone(dt.timedelta(hours=8))


@pytest.fixture(params=[True, False], ids=["reply-first", "claim-first"])
def reply_first(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


@pytest.fixture
def app_config(reply_first: bool) -> dict[str, Any]:
    return twilio_settings(INBOUND_REPLY_FIRST=reply_first)


def _reply(response: Any) -> str:
    assert response.status_code == 200, response.get_data(as_text=True)
    return str(response.get_data(as_text=True))


@pytest.fixture
def engine_runs(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, bool]]:
    """Each engine run: (text, whether its message was already claimed when it ran)."""
    runs: list[tuple[str, bool]] = []
    real = bot_engine.handle_message

    def handle(message: Message) -> Reply:
        claimed = db.session.scalar(
            select(func.count())
            .select_from(InboundMessage)
            .where(InboundMessage.provider_id == message.provider_id)
        )
        runs.append((message.text, claimed == 1))
        return real(message)

    monkeypatch.setattr("app.bot.engine.handle_message", handle)
    return runs


@pytest.mark.parametrize("text", ["JF", "BAL", "HELP", "what?", "LANG en"])
def test_every_message_is_answered_once_and_replayed_after(
    client: FlaskClient,
    make_member: Any,
    engine_runs: list[tuple[str, bool]],
    text: str,
    reply_first: bool,
) -> None:
    make_member(PHONE, language="zh-Hans")
    params = inbound_params(PHONE, text, "SMone")
    first = _reply(post_signed(client, "/sms/twilio", params))
    again = _reply(post_signed(client, "/sms/twilio", params))
    assert again == first
    if reply_first and text != "LANG en":
        # Answered before its claim; the retry's answer (reading only) gave way to the first.
        assert engine_runs == [(text, False), (text, True)]
    else:
        assert engine_runs == [(text, True)]  # claimed first; the retry ran nothing
    row = db.session.scalars(select(InboundMessage).filter_by(provider_id="SMone")).one()
    assert row.status == "replied" and row.reply in first


def test_a_retry_of_a_read_only_answer_gets_the_first_reply_though_the_balance_moved(
    client: FlaskClient, make_member: Any
) -> None:
    member = make_member(PHONE, language="en")
    card = member_cards(member)[0]
    give_points(card, 100)
    params = inbound_params(PHONE, "POINTS", "SMmoved")
    first = _reply(post_signed(client, "/sms/twilio", params))
    give_points(card, 50)
    assert "Your points: 100." in first
    assert _reply(post_signed(client, "/sms/twilio", params)) == first
    assert "150" in _reply(post_signed(client, "/sms/twilio", inbound_params(PHONE, "JF", "SMx")))


def test_points_reply_reads_the_ledger_and_the_level(
    client: FlaskClient, make_member: Any, make_level: Any
) -> None:
    from app.clock import frozen

    member = make_member(PHONE, language="zh-Hans")
    member.level = make_level("金卡", 3)
    card = member_cards(member)[0]
    with frozen(dt.datetime(2026, 12, 1, 10, 0, tzinfo=CST)):
        give_points(card, 1080)
        give_points(card, 200, expires_on=dt.date(2027, 1, 31))
        response = post_signed(client, "/sms/twilio", inbound_params(PHONE, "JF", "SMpts"))
    reply = "您的积分：1,280 分，金卡会员。200 分将于 2027-01-31 到期。"
    assert reply in _reply(response)
    row = db.session.scalars(select(InboundMessage).filter_by(provider_id="SMpts")).one()
    assert (row.reply, row.command, row.status, row.reply_language) == (
        reply,
        "points",
        "replied",
        "zh-Hans",
    )


def test_a_strangers_points_is_told_how_to_join(client: FlaskClient) -> None:
    assert "JOIN" in _reply(
        post_signed(client, "/sms/twilio", inbound_params(PHONE, "POINTS", "SMstr"))
    )


# --- real commits: twin deliveries -------------------------------------------------------


def _seed_member() -> None:
    with unit_of_work():
        create_store("SH01", "静安店", "East")
        member = enroll({"phone": PHONE, "home_store": "SH01", "language": "en"})
        credit_points(member_cards(member)[0], 1280, kind="gift", key="seed", expires_on=None)


@pytest.mark.concurrent
def test_twin_read_only_deliveries_get_one_reply_and_one_row(
    live_app: Flask, engine_runs: list[tuple[str, bool]], reply_first: bool
) -> None:
    _seed_member()
    params = inbound_params(PHONE, "POINTS", "SMtwins")
    barrier = threading.Barrier(4)
    bodies: list[str] = []

    def deliver() -> None:
        client = live_app.test_client()
        barrier.wait()
        bodies.append(_reply(post_signed(client, "/sms/twilio", params)))

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(bodies) == 4 and len(set(bodies)) == 1, bodies
    assert "Your points: 1,280." in bodies[0]
    rows = db.session.scalars(select(InboundMessage)).all()
    assert [(r.provider_id, r.command, r.status) for r in rows] == [
        ("SMtwins", "points", "replied")
    ]
    if reply_first:
        # Each answered (reading only); one claim won, the others replayed its reply.
        assert len(engine_runs) == 4
    else:
        assert engine_runs == [("POINTS", True)]  # the twins waited on the claim, then replayed


def _in_transaction(dbapi_connection: Any) -> bool:
    from psycopg.pq import TransactionStatus

    if hasattr(dbapi_connection, "info"):  # psycopg
        return bool(dbapi_connection.info.transaction_status != TransactionStatus.IDLE)
    return bool(dbapi_connection.in_transaction)  # sqlite3


def _transaction_states(live_app: Flask, send: Any) -> tuple[list[str], list[bool]]:
    """While ``send()`` runs: each statement's verb, marked when a transaction was open
    as it ran, and each pooled connection's autocommit as the pool takes it back."""
    from sqlalchemy import event

    engine = db.engine
    at_statement: list[str] = []
    at_checkin: list[bool] = []

    def ran(sql: str, dbapi_connection: Any) -> None:
        # After it ran: psycopg sends BEGIN with the first statement of a transaction.
        if sql.strip(" ;"):  # not the pool's ping
            opened = _in_transaction(dbapi_connection)
            at_statement.append(sql.split()[0] + (" in BEGIN" if opened else ""))

    def statement(conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        ran(sql, conn.connection.dbapi_connection)

    def checkin(dbapi_connection: Any, _record: Any) -> None:
        at_checkin.append(bool(getattr(dbapi_connection, "autocommit", False) is True))

    event.listen(engine, "after_cursor_execute", statement)
    event.listen(engine.pool, "checkin", checkin)
    try:
        # The hot statements on the driver's cursor (app.db.prepared) pass no event.
        with live_app.app_context(), observed(ran, with_connection=True):
            send()
    finally:
        event.remove(engine, "after_cursor_execute", statement)
        event.remove(engine.pool, "checkin", checkin)
    return at_statement, at_checkin


@pytest.mark.concurrent
def test_a_read_only_answer_on_postgresql_opens_no_transaction_and_leaves_none_in_autocommit(
    live_app: Flask, reply_first: bool
) -> None:
    """Reply first on PostgreSQL: the reads and the claim run in autocommit (no BEGIN,
    no COMMIT: two round trips of six); the pool gets the connection back transactional,
    so the next unit of work (a checkout) is one transaction as always. SQLite, and the
    plain path, answer in the session's one transaction."""
    _seed_member()
    client = live_app.test_client()
    params = inbound_params(PHONE, "POINTS", "SMauto")
    statements, checkins = _transaction_states(
        live_app, lambda: _reply(post_signed(client, "/sms/twilio", params))
    )
    autocommit = reply_first and db.engine.dialect.name == "postgresql"
    assert statements[-1].startswith("INSERT" if reply_first else "UPDATE"), statements
    assert all(s.endswith(" in BEGIN") != autocommit for s in statements), statements
    assert checkins and not any(checkins)
    row = db.session.scalars(select(InboundMessage).filter_by(provider_id="SMauto")).one()
    assert (row.command, row.status) == ("points", "replied")
    db.session.rollback()  # SQLite: let go of the database's write lock
    # A command that writes is claimed first, in one transaction, either way.
    statements, checkins = _transaction_states(
        live_app,
        lambda: _reply(
            post_signed(client, "/sms/twilio", inbound_params(PHONE, "LANG zh", "SMwrites"))
        ),
    )
    assert statements[0].startswith("INSERT"), statements
    assert all(s.endswith(" in BEGIN") for s in statements), statements
    assert checkins and not any(checkins)


# --- a command declared read-only writes nothing but its message ------------------------


def _row_counts() -> dict[str, int]:
    return {
        table.name: db.session.scalar(select(func.count()).select_from(table)) or 0
        for table in Base.metadata.sorted_tables
    }


def _read_only_keywords() -> list[tuple[str, str]]:
    from app.bot.commands import COMMAND_MODULES
    from app.bot.registry import Registry

    return [
        (command.name, keyword)
        for command in Registry.from_modules(COMMAND_MODULES).commands.values()
        if not command.writes
        for keyword in sorted({words[0] for words in command.keywords.values() if words})
    ]


@pytest.mark.parametrize(("command", "keyword"), _read_only_keywords())
def test_a_command_declared_read_only_writes_nothing_but_its_message(
    app: Flask, client: FlaskClient, make_member: Any, command: str, keyword: str
) -> None:
    member = make_member(PHONE, language="zh-Hans")
    give_points(member_cards(member)[0], 300)
    before = _row_counts()
    reply = _reply(post_signed(client, "/sms/twilio", inbound_params(PHONE, keyword, "SMro")))
    assert "<Message>" in reply
    after = _row_counts()
    assert after.pop("inbound_message") == before.pop("inbound_message") + 1
    assert after == before
    stored = db.session.scalars(select(InboundMessage).filter_by(provider_id="SMro")).one()
    assert stored.command == command
