"""The dispatcher against the fake Twilio API: sends, retries, back-off, refusals, kills."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from app import clock
from app.db import db
from app.messaging.dispatcher import Dispatcher
from app.messaging.models import OutboxMessage
from app.messaging.services import enqueue
from app.optout.services import is_opted_out, opt_out
from tests.sms.fake_twilio import FakeTwilio
from tests.sms.support import FROM_NUMBER, PUBLIC_BASE_URL, twilio_settings

PHONE = "+8613800138000"
#: 10:00 in Shanghai: outside quiet hours.
MORNING = dt.datetime(2026, 11, 23, 2, 0, tzinfo=dt.UTC)


@pytest.fixture
def app_config(fake_twilio: FakeTwilio) -> dict[str, Any]:
    return twilio_settings(fake_twilio.base_url)


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def dispatcher(app: Flask, sleeps: list[float]) -> Dispatcher:
    return Dispatcher(app, sleep=sleeps.append)


def _row(outbox_id: int) -> OutboxMessage:
    db.session.expire_all()
    return db.session.get(OutboxMessage, outbox_id)  # type: ignore[return-value]


def _alert(text: str = "Card *8000: spent 12.50 yuan", address: str = PHONE, **kw: Any) -> int:
    return enqueue(address=address, body=text, kind=kw.pop("kind", "alert"), **kw)


def test_sends_through_the_real_client_and_records_the_sid(
    dispatcher: Dispatcher, fake_twilio: FakeTwilio
) -> None:
    with clock.frozen(MORNING):
        outbox_id = _alert()
        stats = dispatcher.run_once()
    assert stats.sent == 1
    [sent] = fake_twilio.messages
    assert sent["To"] == PHONE
    assert sent["From"] == FROM_NUMBER
    assert sent["Body"] == "Card *8000: spent 12.50 yuan"
    assert sent["StatusCallback"] == (f"{PUBLIC_BASE_URL}/sms/twilio/status?outbox_id={outbox_id}")
    row = _row(outbox_id)
    assert row.status == "sending"
    assert row.provider_id == sent["Sid"]
    assert row.attempts == 1
    assert row.sent_body == sent["Body"]
    assert row.lease_until is None


def test_nothing_due_sends_nothing(dispatcher: Dispatcher, fake_twilio: FakeTwilio) -> None:
    assert dispatcher.run_once().claimed == 0
    assert fake_twilio.requests == []


def test_429_then_success(dispatcher: Dispatcher, fake_twilio: FakeTwilio) -> None:
    fake_twilio.script("429")
    with clock.frozen(MORNING):
        outbox_id = _alert()
        assert dispatcher.run_once().retried == 1
        row = _row(outbox_id)
        assert (row.status, row.attempts) == ("queued", 1)
        assert row.next_attempt_at == MORNING + dt.timedelta(seconds=30)
        assert "429" in (row.last_error or "")
        # Not due yet: the back-off holds it.
        assert dispatcher.run_once().claimed == 0
    with clock.frozen(MORNING + dt.timedelta(seconds=30)):
        assert dispatcher.run_once().sent == 1
    assert len(fake_twilio.requests) == 2
    assert len(fake_twilio.messages) == 1
    row = _row(outbox_id)
    assert (row.status, row.attempts, row.last_error) == ("sending", 2, None)


def test_500s_back_off_exponentially_then_fail_at_max_attempts(
    app: Flask, dispatcher: Dispatcher, fake_twilio: FakeTwilio
) -> None:
    app.config["SMS_MAX_ATTEMPTS"] = 4
    fake_twilio.script("500", "500", "500", "500")
    now = MORNING
    with clock.frozen(now):
        outbox_id = _alert()
    waits = []
    for _ in range(3):
        with clock.frozen(now):
            assert dispatcher.run_once().retried == 1
        row = _row(outbox_id)
        waits.append((row.next_attempt_at - now).total_seconds())
        now = row.next_attempt_at
    assert waits == [30, 60, 120]
    with clock.frozen(now):
        assert dispatcher.run_once().failed == 1
    row = _row(outbox_id)
    assert (row.status, row.attempts) == ("failed", 4)
    with clock.frozen(now + dt.timedelta(days=1)):
        assert dispatcher.run_once().claimed == 0
    assert len(fake_twilio.requests) == 4
    assert fake_twilio.messages == []


def test_back_off_is_capped(app: Flask, dispatcher: Dispatcher, fake_twilio: FakeTwilio) -> None:
    from app.messaging.dispatcher import backoff

    assert backoff(1) == dt.timedelta(seconds=30)
    assert backoff(20) == dt.timedelta(seconds=app.config["SMS_RETRY_MAX_SECONDS"])


def test_permanent_error_is_not_retried(
    dispatcher: Dispatcher, fake_twilio: FakeTwilio, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO")
    fake_twilio.script("400:21211")
    with clock.frozen(MORNING):
        outbox_id = _alert(address="+8613900000000")
        assert dispatcher.run_once().failed == 1
    with clock.frozen(MORNING + dt.timedelta(days=2)):
        assert dispatcher.run_once().claimed == 0
    row = _row(outbox_id)
    assert row.status == "failed"
    assert "21211" in (row.last_error or "")
    # Twilio's message quotes the number; neither the row nor the log keeps it whole.
    assert "+86139****0000" in (row.last_error or "")
    assert "+8613900000000" not in (row.last_error or "") + caplog.text
    assert len(fake_twilio.requests) == 1
    assert not is_opted_out("sms", "+8613900000000")


def test_unsubscribed_recipient_is_opted_out_here_too(
    dispatcher: Dispatcher, fake_twilio: FakeTwilio
) -> None:
    fake_twilio.script("400:21610")
    with clock.frozen(MORNING):
        first = _alert()
        second = _alert("another alert")
        dispatcher.run_once(batch=1)
        assert is_opted_out("sms", PHONE)
        stats = dispatcher.run_once()
    assert _row(first).status == "failed"
    assert (stats.suppressed, _row(second).status) == (1, "suppressed")
    assert len(fake_twilio.requests) == 1


def test_timeout_is_retried(app: Flask, dispatcher: Dispatcher, fake_twilio: FakeTwilio) -> None:
    fake_twilio.script("hang")
    with clock.frozen(MORNING):
        outbox_id = _alert()
        assert dispatcher.run_once().retried == 1
    row = _row(outbox_id)
    assert (row.status, row.attempts) == ("queued", 1)
    assert "timeout" in (row.last_error or "")
    fake_twilio.release.set()
    with clock.frozen(MORNING + dt.timedelta(minutes=1)):
        assert dispatcher.run_once().sent == 1
    assert len(fake_twilio.messages) == 1


def test_rate_limit_spaces_sends_per_sender(
    app: Flask, dispatcher: Dispatcher, sleeps: list[float], fake_twilio: FakeTwilio
) -> None:
    app.config["SMS_RATE_PER_SECOND"] = 2
    with clock.frozen(MORNING):
        for n in range(3):
            _alert(f"alert {n}")
        assert dispatcher.run_once().sent == 3
    # The clock is frozen, so each reservation lies half a second after the last.
    assert sleeps == [0.5, 1.0]
    assert fake_twilio.bodies() == ["alert 0", "alert 1", "alert 2"]


def test_killed_between_claim_and_send_loses_and_duplicates_nothing(
    app: Flask, fake_twilio: FakeTwilio
) -> None:
    """A dispatcher dies (here: an injected KeyboardInterrupt) after claiming a batch."""
    from app.messaging.providers import sender_for

    real = sender_for(app)

    class DiesOnSecond:
        sender_id = real.sender_id
        calls = 0

        def send(self, to: str, body: str, *, outbox_id: int) -> Any:
            self.calls += 1
            if self.calls == 2:
                raise KeyboardInterrupt
            return real.send(to, body, outbox_id=outbox_id)

    with clock.frozen(MORNING):
        ids = [_alert(f"alert {n}") for n in range(4)]
        with pytest.raises(KeyboardInterrupt):
            Dispatcher(app, sender=DiesOnSecond(), sleep=lambda s: None).run_once()
        assert [_row(i).status for i in ids] == ["sending", "sending", "sending", "sending"]
        # A second dispatcher keeps its hands off while the lease lasts.
        assert Dispatcher(app, sleep=lambda s: None).run_once().claimed == 0
    lease = dt.timedelta(seconds=app.config["OUTBOX_LEASE_SECONDS"])
    with clock.frozen(MORNING + lease + dt.timedelta(seconds=1)):
        stats = Dispatcher(app, sleep=lambda s: None).run_once()
    assert stats.claimed == 3
    assert sorted(fake_twilio.bodies()) == ["alert 0", "alert 1", "alert 2", "alert 3"]
    assert {_row(i).status for i in ids} == {"sending"}
    assert all(_row(i).provider_id for i in ids)


def test_stop_signal_gives_the_rest_of_the_batch_back(app: Flask, fake_twilio: FakeTwilio) -> None:
    dispatcher = Dispatcher(app, sleep=lambda s: None)
    from app.messaging.providers import sender_for

    real = sender_for(app)

    class StopsAfterFirst:
        sender_id = real.sender_id

        def send(self, to: str, body: str, *, outbox_id: int) -> Any:
            dispatcher.stop.set()
            return real.send(to, body, outbox_id=outbox_id)

    dispatcher.sender = StopsAfterFirst()
    with clock.frozen(MORNING):
        ids = [_alert(f"alert {n}") for n in range(3)]
        stats = dispatcher.run_once()
    assert (stats.sent, stats.released) == (1, 2)
    assert [_row(i).status for i in ids] == ["sending", "queued", "queued"]
    assert [_row(i).attempts for i in ids] == [1, 0, 0]


def test_console_provider_logs_masked_and_marks_sent(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    app.config["SMS_PROVIDER"] = "console"
    app.extensions.pop("laoyou.sms_sender", None)
    app.config["SMS_RATE_PER_SECOND"] = 1
    caplog.set_level("INFO")
    waits: list[float] = []
    with clock.frozen(MORNING):
        outbox_id = _alert("hello")
        _alert("again")
        assert Dispatcher(app, sleep=waits.append).run_once().sent == 2
    row = _row(outbox_id)
    assert (row.status, row.sender) == ("sent", "console")
    assert waits == []  # no carrier, no per-number rate limit
    assert "+86138****8000" in caplog.text and "hello" in caplog.text
    assert PHONE not in caplog.text


def test_wechat_rows_go_to_the_wechat_provider_not_twilio(
    dispatcher: Dispatcher, fake_twilio: FakeTwilio
) -> None:
    """WECHAT_PROVIDER=console (the default): logged and sent; tests/wechat_out has the API."""
    with clock.frozen(MORNING):
        outbox_id = enqueue(address="oOPENID", body="hi", kind="alert", channel="wechat")
        assert dispatcher.run_once().sent == 1
    row = _row(outbox_id)
    assert (row.status, row.sender, row.sent_body) == ("sent", "wechat-console", "hi")
    assert fake_twilio.requests == []


def test_sends_opted_out_confirmation_but_nothing_else(
    dispatcher: Dispatcher, fake_twilio: FakeTwilio
) -> None:
    with clock.frozen(MORNING):
        opt_out("sms", PHONE, source="test")
        alert = _alert("an alert")
        marketing = _alert("a sale", kind="marketing")
        confirmation = enqueue(
            address=PHONE,
            body="You are unsubscribed. Reply START to opt back in.",
            kind="reply",
            language="en",
            opt_out_confirmation=True,
        )
        stats = dispatcher.run_once()
    assert (stats.sent, stats.suppressed) == (1, 2)
    assert fake_twilio.bodies() == ["You are unsubscribed. Reply START to opt back in."]
    assert _row(alert).status == "suppressed"
    assert _row(marketing).status == "suppressed"
    assert _row(confirmation).status == "sending"


def test_enqueue_is_idempotent_by_dedupe_key(app: Flask) -> None:
    first = _alert("one", dedupe_key="k1")
    second = _alert("two", dedupe_key="k1")
    assert first == second
    assert db.session.scalars(select(OutboxMessage.body)).all() == ["one"]


@pytest.mark.parametrize("bad", [{"kind": "spam"}, {"channel": "fax"}, {"body": "  "}])
def test_enqueue_refuses_bad_input(app: Flask, bad: dict[str, str]) -> None:
    from app.errors import InvalidRequest

    args: dict[str, Any] = {"address": PHONE, "body": "x", "kind": "alert", **bad}
    with pytest.raises(InvalidRequest):
        enqueue(**args)
    assert db.session.scalars(select(OutboxMessage)).all() == []
