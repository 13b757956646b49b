"""Marketing at send time: quiet hours, the 【signature】, the unsubscribe line per language."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask import Flask

from app import clock
from app.db import db
from app.messaging.compose import quiet_until, render
from app.messaging.dispatcher import Dispatcher
from app.messaging.models import OutboxMessage
from app.messaging.services import enqueue
from tests.sms.fake_twilio import FakeTwilio
from tests.sms.support import twilio_settings

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
PHONE = "+8613800138000"


@pytest.fixture
def app_config(fake_twilio: FakeTwilio) -> dict[str, Any]:
    return twilio_settings(fake_twilio.base_url)


def local(hour: int, minute: int = 0, day: int = 23) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    ("moment", "until"),
    [
        (local(20, 59), None),
        (local(21, 0), local(9, 0, day=24)),
        (local(23, 30), local(9, 0, day=24)),
        (local(0, 15), local(9, 0)),
        (local(8, 59), local(9, 0)),
        (local(9, 0), None),
        (local(14, 0), None),
    ],
)
def test_quiet_hours_span_midnight_in_local_time(
    app: Flask, moment: dt.datetime, until: dt.datetime | None
) -> None:
    assert quiet_until(moment) == until


def test_quiet_hours_within_one_day_and_switched_off(app: Flask) -> None:
    app.config.update(QUIET_HOURS_START="12:00", QUIET_HOURS_END="14:00")
    assert quiet_until(local(13, 0)) == local(14, 0)
    assert quiet_until(local(14, 0)) is None
    app.config.update(QUIET_HOURS_START="00:00", QUIET_HOURS_END="00:00")
    assert quiet_until(local(23, 0)) is None


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("zh-Hans", "【老友会员】双十一全场九折回复TD退订"),
        ("zh-Hant", "【老友会员】双十一全场九折回覆TD退訂"),
        ("en", "【老友会员】双十一全场九折 Reply STOP to opt out"),
    ],
)
def test_marketing_carries_signature_and_unsubscribe_line(
    app: Flask, language: str, expected: str
) -> None:
    assert render("marketing", "双十一全场九折", language) == expected


def test_signature_is_a_setting_and_alerts_are_left_alone(app: Flask) -> None:
    app.config["SMS_SIGNATURE"] = "老友咖啡"
    assert render("marketing", "Member day!", "en") == (
        "【老友咖啡】Member day! Reply STOP to opt out"
    )
    assert render("alert", "Card *8000: spent 12.50 yuan", "en") == ("Card *8000: spent 12.50 yuan")


def test_quiet_hours_hold_marketing_but_not_alerts(app: Flask, fake_twilio: FakeTwilio) -> None:
    dispatcher = Dispatcher(app, sleep=lambda s: None)
    with clock.frozen(local(22, 30)):
        sale = enqueue(address=PHONE, body="会员日全场九折", kind="marketing", language="zh-Hans")
        alert = enqueue(address=PHONE, body="您的卡消费12.50元", kind="alert")
        stats = dispatcher.run_once()
    assert (stats.sent, stats.deferred) == (1, 1)
    assert fake_twilio.bodies() == ["您的卡消费12.50元"]
    db.session.expire_all()
    held = db.session.get(OutboxMessage, sale)
    assert held is not None
    assert (held.status, held.attempts) == ("queued", 0)
    assert held.next_attempt_at == local(9, 0, day=24)
    with clock.frozen(local(8, 59, day=24)):
        assert dispatcher.run_once().claimed == 0
    with clock.frozen(local(9, 0, day=24)):
        assert dispatcher.run_once().sent == 1
    assert fake_twilio.bodies() == ["您的卡消费12.50元", "【老友会员】会员日全场九折回复TD退订"]
    assert alert
