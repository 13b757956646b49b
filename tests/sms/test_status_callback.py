"""Delivery status callbacks: signed, forward-only, tolerant of strangers."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from app.db import db
from app.messaging.models import OutboxMessage
from app.messaging.services import enqueue
from tests.sms.support import ACCOUNT_SID, FROM_NUMBER, post_signed, sign, twilio_settings

PHONE = "+8613800138000"


@pytest.fixture
def app_config() -> dict[str, Any]:
    return twilio_settings()


def _sent_row(sid: str = "SMabc", status: str = "sending") -> int:
    outbox_id = enqueue(address=PHONE, body="hello", kind="alert")
    row = db.session.get(OutboxMessage, outbox_id)
    assert row is not None
    row.status, row.provider_id = status, sid
    # Committed (to the test's savepoint), as the dispatcher would have: a refused
    # request rolls back what is still pending in the session.
    db.session.commit()
    return outbox_id


def _callback(sid: str, status: str, **extra: str) -> dict[str, str]:
    return {
        "AccountSid": ACCOUNT_SID,
        "From": FROM_NUMBER,
        "To": PHONE,
        "MessageSid": sid,
        "SmsSid": sid,
        "MessageStatus": status,
        "SmsStatus": status,
        "ApiVersion": "2010-04-01",
        **extra,
    }


def _status(outbox_id: int) -> OutboxMessage:
    db.session.expire_all()
    row = db.session.get(OutboxMessage, outbox_id)
    assert row is not None
    return row


def test_statuses_move_forward(client: FlaskClient) -> None:
    outbox_id = _sent_row()
    for status in ("queued", "sent", "delivered"):
        response = post_signed(client, "/sms/twilio/status", _callback("SMabc", status))
        assert response.status_code == 200
    assert _status(outbox_id).status == "delivered"


def test_out_of_order_callbacks_never_move_backwards(client: FlaskClient) -> None:
    outbox_id = _sent_row()
    post_signed(client, "/sms/twilio/status", _callback("SMabc", "delivered"))
    post_signed(client, "/sms/twilio/status", _callback("SMabc", "sent"))
    post_signed(client, "/sms/twilio/status", _callback("SMabc", "sending"))
    assert _status(outbox_id).status == "delivered"


def test_undelivered_records_the_error_code(client: FlaskClient) -> None:
    outbox_id = _sent_row()
    post_signed(client, "/sms/twilio/status", _callback("SMabc", "sent"))
    post_signed(client, "/sms/twilio/status", _callback("SMabc", "undelivered", ErrorCode="30003"))
    row = _status(outbox_id)
    assert (row.status, row.last_error) == ("undelivered", "provider error 30003")


def test_unknown_sid_is_acknowledged_and_ignored(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    outbox_id = _sent_row()
    caplog.set_level("INFO")
    response = post_signed(client, "/sms/twilio/status", _callback("SMnobody", "delivered"))
    assert response.status_code == 200
    assert "unknown message SMnobody" in caplog.text
    assert _status(outbox_id).status == "sending"


def test_callback_names_a_message_whose_acceptance_we_missed(client: FlaskClient) -> None:
    """A send timed out, so the row went back to queued with no sid; Twilio had it after all."""
    outbox_id = enqueue(address=PHONE, body="hello", kind="alert")
    row = db.session.get(OutboxMessage, outbox_id)
    assert row is not None
    row.attempts, row.last_error = 1, "timeout waiting for the provider"
    db.session.flush()
    path = f"/sms/twilio/status?outbox_id={outbox_id}"
    params = _callback("SMlate", "sent")
    response = client.post(path, data=params, headers={"X-Twilio-Signature": sign(path, params)})
    assert response.status_code == 200
    row = _status(outbox_id)
    assert (row.status, row.provider_id) == ("sent", "SMlate")


def test_unsigned_callback_is_refused_and_changes_nothing(client: FlaskClient) -> None:
    outbox_id = _sent_row()
    response = client.post("/sms/twilio/status", data=_callback("SMabc", "delivered"))
    assert response.status_code == 403
    forged = client.post(
        "/sms/twilio/status",
        data=_callback("SMabc", "delivered"),
        headers={"X-Twilio-Signature": sign("/sms/twilio/status", _callback("SMabc", "failed"))},
    )
    assert forged.status_code == 403
    assert _status(outbox_id).status == "sending"
