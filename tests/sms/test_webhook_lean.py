"""The webhook's hot path stays lean: what one JF costs in statements, not only its reply.

A read-only answer (POINTS, BAL, HELP, anything not understood) is one read and one
write: the sender and whether the message was seen, then the message with its
reply. On PostgreSQL those two run in autocommit. A command that writes claims its
message first, so twin deliveries wait on the claim.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, func, select

from app.cards.services import enroll, member_cards
from app.clock import frozen
from app.db import Base, db, unit_of_work
from app.ledger.journal import credit_points
from app.ledger.prepared import observed
from app.messaging.models import InboundMessage
from app.stores.services import create_store
from tests.bot.support import give_points
from tests.sms.support import inbound_params, post_signed, twilio_settings

PHONE = "+8613800138000"
CST = dt.timezone(dt.timedelta(hours=8))


@pytest.fixture
def app_config() -> dict[str, Any]:
    return twilio_settings()


def _statements_of(app: Flask, send: Callable[[], Any]) -> tuple[Any, list[str]]:
    """``send()``'s result and its SQL, but the savepoints of the outer transaction."""
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
    return result, [s for s in seen if "SAVEPOINT" not in s]


def _reply(response: Any) -> str:
    assert response.status_code == 200, response.get_data(as_text=True)
    return str(response.get_data(as_text=True))


def test_points_is_one_read_and_one_write(
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
    reply = "您的积分：1,280 分，金卡会员。200 分将于 2027-01-31 到期。"
    assert reply in _reply(response)
    assert len(statements) == 2, statements
    lookup, write = statements
    # Seen before?, the sender, and points, level and next expiry: one statement.
    assert lookup.startswith("WITH seen AS (SELECT inbound_message.id")
    assert "member.phone =" in lookup and "ledger_account" in lookup and "points_lot" in lookup
    # The message is stored with its reply: no placeholder to update afterwards.
    assert write.startswith("INSERT INTO inbound_message")
    row = db.session.scalars(select(InboundMessage).filter_by(provider_id="SMlean1")).one()
    assert (row.reply, row.command, row.status, row.reply_language) == (
        reply,
        "points",
        "replied",
        "zh-Hans",
    )


def test_replayed_points_runs_no_command(app: Flask, client: FlaskClient, make_member: Any) -> None:
    make_member(PHONE, language="zh-Hans")
    params = inbound_params(PHONE, "JF", "SMlean2")
    first = post_signed(client, "/sms/twilio", params)
    replay, statements = _statements_of(app, lambda: post_signed(client, "/sms/twilio", params))
    assert replay.get_data() == first.get_data()
    # The lookup finds the stored message: its reply goes back, nothing else runs or writes.
    assert len(statements) == 1, statements
    assert statements[0].startswith("WITH seen AS")
    assert db.session.scalar(select(func.count()).select_from(InboundMessage)) == 1


def test_a_strangers_message_is_one_lookup_too(app: Flask, client: FlaskClient) -> None:
    response, statements = _statements_of(
        app,
        lambda: post_signed(client, "/sms/twilio", inbound_params(PHONE, "POINTS", "SMlean3")),
    )
    assert "JOIN" in _reply(response)
    assert len([s for s in statements if "opt_out.address =" in s]) == 1
    assert len(statements) == 2, statements


def test_a_command_that_writes_claims_its_message_first(
    app: Flask, client: FlaskClient, make_member: Any
) -> None:
    make_member(PHONE, language="zh-Hans")
    response, statements = _statements_of(
        app,
        lambda: post_signed(client, "/sms/twilio", inbound_params(PHONE, "LANG en", "SMlean4")),
    )
    assert "English" in _reply(response)
    # The claim comes before any effect; twins wait on it (tests/sms/test_webhook.py).
    first = statements[0]
    if db.engine.dialect.name == "postgresql":
        assert first.startswith("WITH claim AS (INSERT INTO inbound_message")
    else:
        assert first.startswith("INSERT INTO inbound_message")
    assert statements[-1].startswith("UPDATE inbound_message")
    row = db.session.scalars(select(InboundMessage).filter_by(provider_id="SMlean4")).one()
    assert (row.command, row.status, row.reply_language) == ("lang", "replied", "en")


# --- real commits: twin deliveries, and autocommit on PostgreSQL ----------------------


def _seed_member() -> None:
    with unit_of_work():
        create_store("SH01", "静安店", "East")
        member = enroll({"phone": PHONE, "home_store": "SH01", "language": "en"})
        credit_points(member_cards(member)[0], 1280, kind="gift", key="seed", expires_on=None)


@pytest.mark.concurrent
def test_twin_read_only_deliveries_get_one_reply_and_one_row(live_app: Flask) -> None:
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


@pytest.mark.concurrent
@pytest.mark.postgresql_only
def test_read_only_answers_run_in_autocommit_on_a_connection_the_thread_keeps(
    live_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No BEGIN, no COMMIT and no ORM session for POINTS; its connection is kept by the
    thread for the next answer, and pinged first if it sat unused too long."""
    import app.db

    _seed_member()
    engine = db.engine
    during: list[tuple[str, Any, bool, bool]] = []
    returned: list[tuple[Any, bool]] = []
    #: The driver connection checked out last (one client: one request at a time).
    current: list[Any] = []

    def flag(sql: str) -> None:
        dbapi = current[-1]
        during.append((sql.split()[0], dbapi, dbapi.autocommit, db.session.registry.has()))

    def checked_out(dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
        current.append(dbapi_conn)

    def checked_in(dbapi_conn: Any, _record: Any) -> None:
        if dbapi_conn is not None:  # None: invalidated
            returned.append((dbapi_conn, dbapi_conn.autocommit))

    def points(sid: str) -> None:
        response = post_signed(client, "/sms/twilio", inbound_params(PHONE, "POINTS", sid))
        assert "1,280" in _reply(response)  # in English, then (LANG) in Chinese

    event.listen(engine, "checkout", checked_out)
    event.listen(engine, "checkin", checked_in)
    client = live_app.test_client()
    try:
        with observed(flag):
            points("SMac1")
            points("SMac2")
            first = during[0][1]
            assert [(sql, d is first, ac, s) for sql, d, ac, s in during] == [
                ("WITH", True, True, False),
                ("INSERT", True, True, False),
            ] * 2  # the same connection twice, not checked in between
            assert not any(d is first for d, _ac in returned)
            during.clear()
            # A command that writes gets a transaction (its claim and its effect commit as one).
            lang_params = inbound_params(PHONE, "LANG zh-Hans", "SMac3")
            lang = post_signed(client, "/sms/twilio", lang_params)
            assert "今后我们将用简体中文给您回复" in _reply(lang)
            assert during and not any(ac for _sql, _d, ac, _s in during)
            assert all(d is not first for _sql, d, _ac, _s in during)
            # Unused too long: pinged first; it died meanwhile, so a fresh one answers.
            admin = db.engine.raw_connection()
            try:
                cursor = admin.cursor()
                cursor.execute("SELECT pg_terminate_backend(%s)", (first.info.backend_pid,))
            finally:
                admin.close()
            monkeypatch.setattr(app.db, "PING_AFTER_IDLE_S", 0.0)
            points("SMac4")
            assert during[-1][1] is not first and during[-1][2] is True
    finally:
        event.remove(engine, "checkout", checked_out)
        event.remove(engine, "checkin", checked_in)
    stored = db.session.execute(
        select(InboundMessage.provider_id, InboundMessage.command).order_by(InboundMessage.id)
    ).all()
    assert [tuple(r) for r in stored] == [
        ("SMac1", "points"),
        ("SMac2", "points"),
        ("SMac3", "lang"),
        ("SMac4", "points"),
    ]


@pytest.mark.concurrent
@pytest.mark.postgresql_only
def test_a_threads_kept_connection_goes_back_to_the_pool_when_the_thread_ends(
    live_app: Flask,
) -> None:
    import gc

    _seed_member()
    pool = db.engine.pool
    before = pool.checkedout()  # type: ignore[attr-defined]
    during: list[int] = []

    def answer() -> None:
        client = live_app.test_client()
        _reply(post_signed(client, "/sms/twilio", inbound_params(PHONE, "POINTS", "SMthread")))
        during.append(pool.checkedout())  # type: ignore[attr-defined]

    returned: list[bool] = []

    def checked_in(dbapi_conn: Any, _record: Any) -> None:
        returned.append(dbapi_conn.autocommit)

    event.listen(db.engine, "checkin", checked_in)
    try:
        worker = threading.Thread(target=answer)
        worker.start()
        worker.join()
        del worker
        gc.collect()
    finally:
        event.remove(db.engine, "checkin", checked_in)
    assert during == [before + 1]  # kept by the thread between answers
    assert pool.checkedout() == before  # type: ignore[attr-defined]
    assert returned == [False]  # back in the pool, in transactions for its next user


@pytest.mark.concurrent
@pytest.mark.postgresql_only
def test_a_failed_answer_gives_its_connection_back(
    live_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    _seed_member()
    pool = db.engine.pool
    client = live_app.test_client()
    _reply(post_signed(client, "/sms/twilio", inbound_params(PHONE, "POINTS", "SMok")))
    kept = pool.checkedout()  # type: ignore[attr-defined]  # this thread keeps one now

    def crash(message: Any) -> Any:
        raise RuntimeError("engine bug")

    monkeypatch.setattr("app.bot.engine.handle_message", crash)
    live_app.config["PROPAGATE_EXCEPTIONS"] = False
    response = post_signed(client, "/sms/twilio", inbound_params(PHONE, "POINTS", "SMfail"))
    assert response.status_code == 500
    assert pool.checkedout() == kept - 1  # type: ignore[attr-defined]
    stored = db.session.scalars(select(InboundMessage.provider_id)).all()
    assert stored == ["SMok"]


@pytest.mark.concurrent
@pytest.mark.postgresql_only
def test_changed_objects_in_autocommit_are_refused_and_not_kept(live_app: Flask) -> None:
    from app.stores.models import Store

    refused = pytest.raises(RuntimeError, match="autocommit changed ORM objects")
    with live_app.test_request_context("/sms/twilio", method="POST"):
        with refused, db.autocommit():  # left unflushed: refused at the end of the block
            db.session.add(Store(code="X1", name="Nope", region="East"))
        assert not db.session.registry.has()  # the block's session went with it
        with refused, db.autocommit():  # flushed (here by a query): refused before writing
            db.session.add(Store(code="X2", name="Nope", region="East"))
            db.session.scalar(select(func.count()).select_from(Store))
        assert not db.session.registry.has()
    # Each statement in autocommit commits at once: had either flushed, its row would stay.
    assert db.session.scalar(select(func.count()).select_from(Store)) == 0


@pytest.mark.concurrent
@pytest.mark.postgresql_only
def test_a_connection_broken_inside_autocommit_is_not_handed_out_again(live_app: Flask) -> None:
    _seed_member()
    with live_app.test_request_context("/sms/twilio", method="POST"), db.autocommit() as conn:
        conn.connection.dbapi_connection.close()  # the server went away mid-answer
    client = live_app.test_client()
    for n in range(3):  # whichever pooled connection each request gets, all work
        sid = f"SMbroken{n}"
        assert "Your points: 1,280." in _reply(
            post_signed(client, "/sms/twilio", inbound_params(PHONE, "POINTS", sid))
        )


# --- the contract that makes autocommit safe ---------------------------------------------


def _row_counts() -> dict[str, int]:
    return {
        table.name: db.session.scalar(select(func.count()).select_from(table)) or 0
        for table in Base.metadata.sorted_tables
    }


def _read_only_keywords() -> list[tuple[str, str]]:
    from app.bot.engine import registry

    return [
        (command.name, keyword)
        for command in registry.commands.values()
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
