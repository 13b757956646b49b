"""The inbound webhook: signatures, deduplication, TwiML, oversized bodies.

The engine is replaced by a recorder here so these tests hold whatever the
commands do; test_commands.py drives the real engine through the same webhook.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from app.bot.message import Message, Reply
from app.db import db
from app.messaging.models import InboundMessage, OutboxMessage
from app.messaging.services import enqueue
from tests.sms.support import (
    AUTH_TOKEN,
    PUBLIC_BASE_URL,
    inbound_params,
    post_signed,
    sign,
    twilio_settings,
)

PHONE = "+8613800138000"


@pytest.fixture
def app_config() -> dict[str, Any]:
    return twilio_settings()


@pytest.fixture
def engine(monkeypatch: pytest.MonkeyPatch) -> list[Message]:
    """The engine answers "echo: <text>" and queues one outbox row per call (its effect)."""
    seen: list[Message] = []

    def handle(message: Message) -> Reply:
        seen.append(message)
        if message.text.endswith("slow"):
            time.sleep(0.2)  # hold the transaction open so twin deliveries overlap
        if message.text == "quiet":
            return Reply(text="", language="en", command=None, silent=True)
        enqueue(address=message.sender, body=f"effect {message.text}", kind="system")
        return Reply(text=f"echo: {message.text}", language="en", command="echo")

    monkeypatch.setattr("app.bot.engine.handle_message", handle)
    # It writes (an outbox row per call), so it must say so: every message is claimed first.
    monkeypatch.setattr("app.bot.engine.reads_only", lambda message: False)
    return seen


def _inbound_count() -> int:
    return db.session.scalar(select(func.count()).select_from(InboundMessage)) or 0


def _outbox_count() -> int:
    return db.session.scalar(select(func.count()).select_from(OutboxMessage)) or 0


def test_signed_message_gets_twiml_reply(client: FlaskClient, engine: list[Message]) -> None:
    response = post_signed(client, "/sms/twilio", inbound_params(PHONE, "JF", "SM1"))
    assert response.status_code == 200
    assert response.mimetype == "text/xml"
    assert response.get_data(as_text=True) == (
        '<?xml version="1.0" encoding="UTF-8"?><Response><Message>echo: JF</Message></Response>'
    )
    assert [(m.channel, m.sender, m.text, m.provider_id) for m in engine] == [
        ("sms", PHONE, "JF", "SM1")
    ]
    row = db.session.scalars(select(InboundMessage)).one()
    assert (row.sender, row.text, row.reply, row.status) == (PHONE, "JF", "echo: JF", "replied")


def test_sender_in_local_format_is_read_as_e164(client: FlaskClient, engine: list[Message]) -> None:
    post_signed(client, "/sms/twilio", inbound_params("13800138000", "JF", "SM2"))
    assert engine[0].sender == PHONE


def test_silent_reply_is_an_empty_response(client: FlaskClient, engine: list[Message]) -> None:
    response = post_signed(client, "/sms/twilio", inbound_params(PHONE, "quiet", "SM3"))
    assert response.status_code == 200
    assert response.get_data(as_text=True) == ('<?xml version="1.0" encoding="UTF-8"?><Response />')
    assert db.session.scalars(select(InboundMessage)).one().status == "silent"


def test_replayed_message_sid_gets_same_reply_and_no_second_effect(
    client: FlaskClient, engine: list[Message]
) -> None:
    params = inbound_params(PHONE, "JF", "SMreplay")
    first = post_signed(client, "/sms/twilio", params)
    second = post_signed(client, "/sms/twilio", params)
    assert second.status_code == 200
    assert second.get_data() == first.get_data()
    assert len(engine) == 1
    assert _inbound_count() == 1
    assert _outbox_count() == 1


def test_replay_with_other_text_still_gets_the_first_reply(
    client: FlaskClient, engine: list[Message]
) -> None:
    post_signed(client, "/sms/twilio", inbound_params(PHONE, "JF", "SMsame"))
    again = post_signed(client, "/sms/twilio", inbound_params(PHONE, "YE", "SMsame"))
    assert "echo: JF" in again.get_data(as_text=True)
    assert len(engine) == 1


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"},
        {"X-Twilio-Signature": ""},
    ],
    ids=["missing", "forged", "empty"],
)
def test_unsigned_or_forged_request_is_refused_and_stores_nothing(
    client: FlaskClient, engine: list[Message], headers: dict[str, str]
) -> None:
    response = client.post(
        "/sms/twilio", data=inbound_params(PHONE, "JF", "SMforged"), headers=headers
    )
    assert response.status_code == 403
    assert engine == []
    assert _inbound_count() == 0
    assert _outbox_count() == 0


def test_signature_for_another_url_is_refused(client: FlaskClient, engine: list[Message]) -> None:
    params = inbound_params(PHONE, "JF", "SMurl")
    # Signed for the URL Flask sees, not the public URL Twilio calls.
    wrong = RequestValidator(AUTH_TOKEN).compute_signature("http://localhost/sms/twilio", params)
    response = client.post("/sms/twilio", data=params, headers={"X-Twilio-Signature": wrong})
    assert response.status_code == 403
    assert engine == []


def test_signature_with_another_token_is_refused(
    client: FlaskClient, engine: list[Message]
) -> None:
    params = inbound_params(PHONE, "JF", "SMtoken")
    signature = sign("/sms/twilio", params, token="someone-elses-token")
    response = client.post("/sms/twilio", data=params, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 403


def test_twilios_own_validator_decides(
    client: FlaskClient, engine: list[Message], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check is ``twilio.request_validator.RequestValidator``'s, not a copy of it: when
    it says no, even a correctly signed request is refused and stores nothing."""
    calls: list[str] = []

    def refuse(_self: Any, uri: str, _params: Any, _signature: str) -> bool:
        calls.append(uri)
        return False

    monkeypatch.setattr(RequestValidator, "validate", refuse)
    response = post_signed(client, "/sms/twilio", inbound_params(PHONE, "JF", "SMvalidator"))
    assert response.status_code == 403
    assert len(calls) == 1
    assert engine == [] and _inbound_count() == 0


def test_tampered_body_is_refused(client: FlaskClient, engine: list[Message]) -> None:
    params = inbound_params(PHONE, "JF", "SMtamper")
    signature = sign("/sms/twilio", params)
    params["Body"] = "TD"
    response = client.post("/sms/twilio", data=params, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 403
    assert engine == []


def test_no_auth_token_configured_refuses_everything(
    app: Flask, client: FlaskClient, engine: list[Message]
) -> None:
    app.config["TWILIO_AUTH_TOKEN"] = ""
    response = post_signed(client, "/sms/twilio", inbound_params(PHONE, "JF", "SMnotoken"))
    assert response.status_code == 403
    assert engine == []


def test_public_base_url_is_what_counts_behind_a_proxy(
    client: FlaskClient, engine: list[Message]
) -> None:
    """Flask sees http://localhost/...; Twilio signed https://laoyou.example.com/..."""
    assert PUBLIC_BASE_URL.startswith("https://")
    response = post_signed(client, "/sms/twilio", inbound_params(PHONE, "JF", "SMproxy"))
    assert response.status_code == 200


def test_message_over_1600_characters_gets_a_clear_reply_and_changes_nothing(
    client: FlaskClient, engine: list[Message]
) -> None:
    response = post_signed(client, "/sms/twilio", inbound_params(PHONE, "积" * 1601, "SMlong"))
    assert response.status_code == 200
    assert "1,600" in response.get_data(as_text=True)
    assert engine == []
    assert _inbound_count() == 0


def test_1600_characters_are_fine(client: FlaskClient, engine: list[Message]) -> None:
    response = post_signed(client, "/sms/twilio", inbound_params(PHONE, "a" * 1600, "SMmax"))
    assert response.status_code == 200
    assert len(engine) == 1


def test_huge_request_is_413_and_changes_nothing(
    client: FlaskClient, engine: list[Message]
) -> None:
    params = inbound_params(PHONE, "x" * 100_000, "SMhuge")
    response = post_signed(client, "/sms/twilio", params)
    assert response.status_code == 413
    assert engine == []
    assert _inbound_count() == 0


def test_phone_numbers_are_masked_in_logs(
    client: FlaskClient, engine: list[Message], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG", logger="laoyou")  # the line per message is DEBUG (LOG_LEVEL)
    post_signed(client, "/sms/twilio", inbound_params(PHONE, "JF", "SMlog"))
    post_signed(client, "/sms/twilio", inbound_params(PHONE, "JF", "SMlog"))
    lines = [r.getMessage() for r in caplog.records if r.name == "laoyou.inbound"]
    assert lines == ["sms from +86138****8000: echo", "sms from +86138****8000: replay of SMlog"]
    assert PHONE not in caplog.text and "13800138000" not in caplog.text


@pytest.mark.parametrize(("level", "lines"), [("INFO", 0), ("DEBUG", 1)])
def test_log_level_decides_whether_each_message_is_a_log_line(
    backend: dict[str, Any], caplog: pytest.LogCaptureFixture, level: str, lines: int
) -> None:
    from app import create_app
    from tests.conftest import settings_for

    app = create_app(settings_for(backend, **twilio_settings(), LOG_LEVEL=level))
    with app.app_context():
        connection = backend["engine"].connect()
        outer = connection.begin()
        db.bind_to(app, connection)
        try:
            post_signed(app.test_client(), "/sms/twilio", inbound_params(PHONE, "HELP", "SMlvl"))
        finally:
            db.session.remove()
            outer.rollback()
            connection.close()
    inbound = [r for r in caplog.records if r.name == "laoyou.inbound"]
    assert len(inbound) == lines


@pytest.mark.concurrent
def test_two_identical_deliveries_at_once_cause_one_effect(
    live_app: Flask, engine: list[Message]
) -> None:
    # MSG is a command that writes: its message is claimed before the engine runs, and
    # twins wait on the claim. (Read-only answers: tests/sms/test_webhook_lean.py.)
    params = inbound_params(PHONE, "MSG slow", "SMrace")
    barrier = threading.Barrier(4)
    bodies: list[bytes] = []

    def deliver() -> None:
        client = live_app.test_client()
        barrier.wait()
        response = post_signed(client, "/sms/twilio", params)
        assert response.status_code == 200
        bodies.append(response.get_data())

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(bodies) == 4 and len(set(bodies)) == 1
    assert b"echo: MSG slow" in bodies[0]
    assert len(engine) == 1
    with live_app.app_context():
        assert _inbound_count() == 1
        assert _outbox_count() == 1


def test_engine_crash_is_500_and_keeps_nothing_so_a_retry_works(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(message: Message) -> Reply:
        enqueue(address=message.sender, body="half-done", kind="system")
        raise RuntimeError("engine bug")

    monkeypatch.setattr("app.bot.engine.handle_message", crash)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    params = inbound_params(PHONE, "JF", "SMcrash")
    assert post_signed(client, "/sms/twilio", params).status_code == 500
    assert _inbound_count() == 0
    assert _outbox_count() == 0
    monkeypatch.setattr(
        "app.bot.engine.handle_message",
        lambda message: Reply(text="fine now", language="en", command="points"),
    )
    retry = post_signed(client, "/sms/twilio", params)
    assert "fine now" in retry.get_data(as_text=True)


@pytest.mark.parametrize(
    ("sender", "body", "sid"),
    [
        (PHONE, "积分\x00", "SMnul1"),
        (PHONE, "\x00", "SMnul2"),
        (PHONE, "积分", "SM\x00nul"),
        ("+86138\x0000138000", "积分", "SMnul3"),
    ],
)
def test_a_nul_character_gets_the_polite_bad_input_reply_and_nothing_is_stored(
    client: FlaskClient, make_member: Any, sender: str, body: str, sid: str
) -> None:
    """The real engine; PostgreSQL's text cannot hold a NUL, so it is refused before any write."""
    make_member(PHONE, language="zh-Hans")
    outbox = _outbox_count()
    response = post_signed(client, "/sms/twilio", inbound_params(sender, body, sid))
    assert response.status_code == 200
    assert "您的短信含有无法识别的字符，请只发送文字。" in response.get_data(as_text=True)
    assert _inbound_count() == 0
    assert _outbox_count() == outbox


def test_a_status_callback_with_a_nul_character_is_ignored(client: FlaskClient) -> None:
    params = {"MessageSid": "SM\x00x", "MessageStatus": "delivered", "AccountSid": "AC1"}
    response = post_signed(client, "/sms/twilio/status?outbox_id=99999999999", params)
    assert response.status_code == 200
