"""Messaging settings are checked at start-up, with a message naming the variable."""

from __future__ import annotations

from typing import Any

import pytest

from app import create_app
from app.config import ConfigError
from app.messaging.dispatcher import Dispatcher
from app.messaging.services import enqueue
from tests.sms.fake_twilio import FakeTwilio
from tests.sms.support import twilio_settings

BASE = {"LAOYOU_ENV": "testing", "SECRET_KEY": "x" * 40}


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"SMS_PROVIDER": "carrier-pigeon"}, "SMS_PROVIDER"),
        ({"SMS_PROVIDER": "twilio"}, "TWILIO_ACCOUNT_SID"),
        (
            {"SMS_PROVIDER": "twilio", "TWILIO_ACCOUNT_SID": "AC1", "TWILIO_AUTH_TOKEN": "t"},
            "TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID",
        ),
        ({"PUBLIC_BASE_URL": "laoyou.example.com"}, "PUBLIC_BASE_URL"),
        ({"QUIET_HOURS_START": "9pm"}, "QUIET_HOURS_START"),
        ({"QUIET_HOURS_END": "24:00"}, "QUIET_HOURS_END"),
        ({"SMS_RATE_PER_SECOND": "0"}, "SMS_RATE_PER_SECOND"),
        ({"OUTBOX_LEASE_SECONDS": "soon"}, "OUTBOX_LEASE_SECONDS"),
    ],
)
def test_bad_messaging_settings_stop_the_start(settings: dict[str, Any], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        create_app({**BASE, **settings})


def test_production_twilio_needs_a_public_url() -> None:
    twilio = {
        "SMS_PROVIDER": "twilio",
        "TWILIO_ACCOUNT_SID": "AC1",
        "TWILIO_AUTH_TOKEN": "t",
        "TWILIO_FROM_NUMBER": "+15005550006",
        "LAOYOU_ENV": "production",
        "DATABASE_URL": "postgresql://laoyou@db.example/laoyou",
    }
    with pytest.raises(ConfigError, match="PUBLIC_BASE_URL"):
        create_app({**BASE, **twilio})
    app = create_app({**BASE, **twilio, "PUBLIC_BASE_URL": "https://laoyou.example.com/"})
    assert app.config["PUBLIC_BASE_URL"] == "https://laoyou.example.com"


def test_defaults() -> None:
    app = create_app(BASE)
    assert app.config["SMS_PROVIDER"] == "console"
    assert (app.config["QUIET_HOURS_START"], app.config["QUIET_HOURS_END"]) == ("21:00", "09:00")
    assert app.config["SMS_SIGNATURE"] == "老友会员"
    assert app.config["SMS_RATE_PER_SECOND"] == 1


@pytest.fixture
def app_config(fake_twilio: FakeTwilio) -> dict[str, Any]:
    return twilio_settings(
        fake_twilio.base_url,
        TWILIO_FROM_NUMBER="",
        TWILIO_MESSAGING_SERVICE_SID="MG" + "1" * 32,
        QUIET_HOURS_START="00:00",
        QUIET_HOURS_END="00:00",
    )


def test_messaging_service_instead_of_a_from_number(app: Any, fake_twilio: FakeTwilio) -> None:
    enqueue(address="+8613800138000", body="via the service", kind="alert")
    assert Dispatcher(app, sleep=lambda s: None).run_once().sent == 1
    [sent] = fake_twilio.messages
    assert sent["MessagingServiceSid"] == "MG" + "1" * 32
    assert "From" not in sent
