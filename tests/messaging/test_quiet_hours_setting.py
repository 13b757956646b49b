"""Quiet hours saved by the programme: they win over QUIET_HOURS_*, apply at the next send,
are audited, and travel in the rules document (``laoyou rules export`` / ``import``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from app import clock
from app.audit.models import AuditEntry
from app.db import db
from app.errors import InvalidRequest
from app.ledger.rules.io import export_rules, import_rules, replace_rules
from app.messaging.compose import quiet_hours
from app.messaging.dispatcher import Dispatcher
from app.messaging.models import OutboxMessage
from app.messaging.services import check_quiet_hours, enqueue, set_quiet_hours
from tests.sms.fake_twilio import FakeTwilio
from tests.sms.support import twilio_settings

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
PHONE = "+8613800138000"


@pytest.fixture
def app_config(fake_twilio: FakeTwilio) -> dict[str, Any]:
    return twilio_settings(fake_twilio.base_url)


def local(hour: int, minute: int = 0, day: int = 23) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=SHANGHAI)


def send_marketing_at(app: Flask, moment: dt.datetime, body: str) -> OutboxMessage:
    """Queue a marketing message at ``moment`` and run the real dispatcher then."""
    with clock.frozen(moment):
        row_id = enqueue(address=PHONE, body=body, kind="marketing", language="en")
        Dispatcher(app, sleep=lambda s: None).run_once()
    db.session.expire_all()
    row = db.session.get(OutboxMessage, row_id)
    assert row is not None
    return row


def audits() -> list[AuditEntry]:
    return list(
        db.session.scalars(
            select(AuditEntry)
            .where(AuditEntry.action == "quiet_hours.update")
            .order_by(AuditEntry.id)
        )
    )


def test_saved_hours_win_over_the_settings_at_the_next_send(
    app: Flask, fake_twilio: FakeTwilio
) -> None:
    assert quiet_hours() == ("21:00", "09:00")  # the settings, until someone saves
    set_quiet_hours(check_quiet_hours({"start": "12:00", "end": "14:00"}))

    held = send_marketing_at(app, local(13, 0), "Lunch offer")
    assert (held.status, held.next_attempt_at) == ("queued", local(14, 0))
    sent = send_marketing_at(app, local(22, 30), "Evening offer")  # the old window
    assert sent.status == "sending"  # handed to the provider
    # The lunch offer, held until 14:00, goes out in the same run: its hour has come.
    assert [b.split(" Reply")[0] for b in fake_twilio.bodies()] == [
        "【老友会员】Lunch offer",
        "【老友会员】Evening offer",
    ]


def test_hours_across_midnight_and_off(app: Flask, fake_twilio: FakeTwilio) -> None:
    set_quiet_hours(check_quiet_hours({"start": "23:00", "end": "06:30"}))
    assert send_marketing_at(app, local(23, 30), "a").next_attempt_at == local(6, 30, day=24)
    assert send_marketing_at(app, local(6, 30), "b").status == "sending"  # handed to the provider

    set_quiet_hours(check_quiet_hours("off"))
    assert quiet_hours() is None
    assert send_marketing_at(app, local(3, 0), "c").status == "sending"  # handed to the provider


def test_a_change_is_audited_before_and_after(app: Flask) -> None:
    set_quiet_hours(("22:00", "08:00"))
    set_quiet_hours(("22:00", "08:00"))  # no change: no entry
    set_quiet_hours(None)
    first, second = audits()
    assert (first.object_type, first.before, first.after) == (
        "quiet_hours",
        {"quiet_hours": "21:00-09:00"},
        {"quiet_hours": "22:00-08:00"},
    )
    assert (second.before, second.after) == (
        {"quiet_hours": "22:00-08:00"},
        {"quiet_hours": "off"},
    )


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ({"start": "9pm", "end": "09:00"}, "quiet_hours.start"),
        ({"start": "24:00", "end": "09:00"}, "quiet_hours.start"),
        ({"start": "21:60", "end": "09:00"}, "quiet_hours.start"),
        ({"start": "9:00", "end": "21:00"}, "quiet_hours.start"),
        ({"start": "21:00", "end": "09:00\x00"}, "quiet_hours.end"),
        ({"start": "21:00", "end": 900}, "quiet_hours.end"),
        ({"start": "21:00"}, "quiet_hours.end"),
        ({"start": "21:00", "end": "21:00"}, "quiet_hours.end"),
        ({"start": "21:00", "end": "09:00", "days": 7}, "quiet_hours.days"),
        ("on", "quiet_hours"),
        (["21:00", "09:00"], "quiet_hours"),
    ],
)
def test_bad_quiet_hours_are_refused(app: Flask, value: Any, field: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        check_quiet_hours(value)
    assert info.value.details["field"] == field


def test_the_rules_document_carries_the_saved_hours(app: Flask) -> None:
    assert "quiet_hours" not in export_rules()  # nothing saved: the settings apply
    set_quiet_hours(("22:00", "07:00"))
    document = export_rules()
    assert document["quiet_hours"] == {"start": "22:00", "end": "07:00"}

    document["quiet_hours"] = "off"
    replace_rules(document)
    assert quiet_hours() is None
    assert export_rules()["quiet_hours"] == "off"
    [entry] = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "rules.import"))
    assert (entry.before["quiet_hours"], entry.after["quiet_hours"]) == (
        {"start": "22:00", "end": "07:00"},
        "off",
    )

    del document["quiet_hours"]
    import_rules(document)
    assert quiet_hours() == ("21:00", "09:00")  # left out: back to the settings


def test_a_bad_document_changes_neither_the_hours_nor_the_rules(app: Flask) -> None:
    set_quiet_hours(("22:00", "07:00"))
    document = export_rules()
    document["earning"]["signup_points"] = 500
    document["quiet_hours"] = {"start": "22:00", "end": "22:00"}
    with pytest.raises(InvalidRequest) as info:
        import_rules(document)
    assert info.value.details["field"] == "quiet_hours.end"
    assert quiet_hours() == ("22:00", "07:00")
    assert export_rules()["earning"]["signup_points"] == 0
