"""Shared by the SMS and messaging tests: Twilio settings, signing, the fake API."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient
from twilio.request_validator import RequestValidator

from tests.sms.fake_twilio import FakeTwilio

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "test-auth-token-0123456789abcdef"
FROM_NUMBER = "+15005550006"
PUBLIC_BASE_URL = "https://laoyou.example.com"


def twilio_settings(base_url: str = "", **extra: Any) -> dict[str, Any]:
    return {
        "SMS_PROVIDER": "twilio",
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_FROM_NUMBER": FROM_NUMBER,
        "TWILIO_API_BASE_URL": base_url,
        "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
        "SMS_RATE_PER_SECOND": 1000,
        "SMS_SEND_TIMEOUT_SECONDS": 1,
        **extra,
    }


def sign(path: str, params: dict[str, str], token: str = AUTH_TOKEN) -> str:
    return RequestValidator(token).compute_signature(PUBLIC_BASE_URL + path, params)


def post_signed(client: FlaskClient, path: str, params: dict[str, str]) -> Any:
    return client.post(path, data=params, headers={"X-Twilio-Signature": sign(path, params)})


def inbound_params(sender: str, body: str, sid: str) -> dict[str, str]:
    """What Twilio posts for an incoming SMS (the fields we read, and a few we don't)."""
    return {
        "ToCountry": "US",
        "SmsMessageSid": sid,
        "NumMedia": "0",
        "SmsSid": sid,
        "SmsStatus": "received",
        "Body": body,
        "To": FROM_NUMBER,
        "NumSegments": "1",
        "MessageSid": sid,
        "AccountSid": ACCOUNT_SID,
        "From": sender,
        "ApiVersion": "2010-04-01",
    }


@pytest.fixture
def fake_twilio() -> Iterator[FakeTwilio]:
    fake = FakeTwilio(ACCOUNT_SID, AUTH_TOKEN).start()
    try:
        yield fake
    finally:
        fake.stop()
