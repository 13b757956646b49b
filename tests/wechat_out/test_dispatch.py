"""The dispatcher sends ``wechat`` outbox rows through the WeChat API (the fake on 127.0.0.1):
alerts with a template id as template messages, the rest as customer-service text."""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from app import clock
from app.db import db
from app.messaging.dispatcher import Dispatcher
from app.messaging.models import OutboxMessage, SenderSlot
from app.messaging.providers.wechat import WechatConsoleSender
from app.messaging.providers.wechat_fake import FakeWechatApi
from app.messaging.services import enqueue
from app.optout.services import is_opted_out, opt_out
from tests.wechat_out.support import APP_ID, OPENID, TEMPLATE_TRANSACTION

#: 10:00 in Shanghai: outside quiet hours; NIGHT is 22:00, inside them.
MORNING = dt.datetime(2026, 11, 23, 2, 0, tzinfo=dt.UTC)
NIGHT = dt.datetime(2026, 11, 23, 14, 0, tzinfo=dt.UTC)
TEMPLATE = "/cgi-bin/message/template/send"
TEXT = "/cgi-bin/message/custom/send"
ALERT = "卡号 *8000：于上海店消费 12.50 元，余额 87.50 元。积分 +12（共 112）。"


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def dispatcher(app: Flask, sleeps: list[float]) -> Dispatcher:
    return Dispatcher(app, sleep=sleeps.append)


def _row(outbox_id: int) -> OutboxMessage:
    db.session.expire_all()
    return db.session.get(OutboxMessage, outbox_id)  # type: ignore[return-value]


def _wechat(body: str = ALERT, **kw: Any) -> int:
    kw.setdefault("kind", "alert")
    outbox_id = enqueue(address=kw.pop("address", OPENID), body=body, channel="wechat", **kw)
    assert outbox_id is not None
    return outbox_id


def test_an_alert_with_a_template_goes_out_as_a_template_message(
    dispatcher: Dispatcher, fake_wechat: FakeWechatApi
) -> None:
    with clock.frozen(MORNING):
        outbox_id = _wechat(alert_type="transaction")
        assert dispatcher.run_once().sent == 1
    [sent] = [r for r in fake_wechat.received if r["path"] == TEMPLATE]
    assert json.loads(sent["raw"].decode("utf-8")) == {
        "touser": OPENID,
        "template_id": TEMPLATE_TRANSACTION,
        "data": {"content": {"value": ALERT}},
        "client_msg_id": f"outbox-{outbox_id}",
    }
    assert ALERT.encode() in sent["raw"]  # UTF-8 as is, not \\u escapes
    assert fake_wechat.calls(TEXT) == []
    row = _row(outbox_id)
    assert row.status == "sent"
    assert row.sender == f"wechat:{APP_ID}"
    assert row.sent_body == ALERT
    assert row.provider_id is not None and row.provider_id.startswith("wx:")
    assert (row.attempts, row.lease_until, row.last_error) == (1, None, None)


@pytest.mark.parametrize(
    ("kind", "alert_type"), [("reply", None), ("system", None), ("alert", "level")]
)
def test_everything_else_goes_out_as_a_customer_service_text(
    dispatcher: Dispatcher, fake_wechat: FakeWechatApi, kind: str, alert_type: str | None
) -> None:
    """A level alert has no template configured here: it is sent as text instead."""
    with clock.frozen(MORNING):
        outbox_id = _wechat("恭喜！您已升级为金卡会员。", kind=kind, alert_type=alert_type)
        assert dispatcher.run_once().sent == 1
    assert fake_wechat.calls(TEXT) == [
        {"touser": OPENID, "msgtype": "text", "text": {"content": "恭喜！您已升级为金卡会员。"}}
    ]
    assert fake_wechat.calls(TEMPLATE) == []
    row = _row(outbox_id)
    assert (row.status, row.provider_id) == ("sent", None)


def test_wechat_rows_are_spaced_by_the_accounts_own_rate_not_the_sms_one(
    app: Flask, dispatcher: Dispatcher, fake_wechat: FakeWechatApi, sleeps: list[float]
) -> None:
    app.config["WECHAT_RATE_PER_SECOND"] = 4
    app.config["SMS_RATE_PER_SECOND"] = 1
    with clock.frozen(MORNING):
        for n in range(5):
            _wechat(f"message {n}", kind="system")
        assert dispatcher.run_once().sent == 5
    # The clock is frozen: each reservation lies a quarter of a second after the last.
    assert sleeps == [0.25, 0.5, 0.75, 1.0]
    (slot,) = db.session.scalars(select(SenderSlot))
    assert slot.sender == f"wechat:{APP_ID}"  # the official account's own slot
    assert [c["text"]["content"] for c in fake_wechat.calls(TEXT)] == [
        f"message {n}" for n in range(5)
    ]


def test_sms_and_wechat_rows_of_one_batch_each_take_their_channel(
    dispatcher: Dispatcher, fake_wechat: FakeWechatApi, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="laoyou.sms")
    with clock.frozen(MORNING):
        sms = enqueue(address="+8613800138000", body="by SMS", kind="system")
        wechat = _wechat("by WeChat", kind="system")
        assert dispatcher.run_once().sent == 2
    assert [c["text"]["content"] for c in fake_wechat.calls(TEXT)] == ["by WeChat"]
    assert _row(sms).sender == "console"  # SMS_PROVIDER=console
    assert _row(wechat).sender == f"wechat:{APP_ID}"
    assert "by SMS" in caplog.text


def test_marketing_waits_out_quiet_hours_and_carries_no_sms_lines(
    dispatcher: Dispatcher, fake_wechat: FakeWechatApi
) -> None:
    with clock.frozen(NIGHT):
        marketing = _wechat("双十一会员日，全场八折。", kind="marketing")
        alert = _wechat(alert_type="transaction")
        stats = dispatcher.run_once()
    assert (stats.sent, stats.deferred) == (1, 1)
    assert len(fake_wechat.calls(TEMPLATE)) == 1
    held = _row(marketing)
    assert held.status == "queued"
    assert held.next_attempt_at == dt.datetime(2026, 11, 24, 1, 0, tzinfo=dt.UTC)  # 09:00
    assert _row(alert).status == "sent"
    with clock.frozen(held.next_attempt_at):
        assert dispatcher.run_once().sent == 1
    # The account's name shows on every WeChat message, and unfollowing is how one stops
    # them: no 【signature】, no "回复TD退订".
    assert [c["text"]["content"] for c in fake_wechat.calls(TEXT)] == ["双十一会员日，全场八折。"]
    assert _row(marketing).sent_body == "双十一会员日，全场八折。"


def test_an_opted_out_openid_is_suppressed_at_send_time(
    dispatcher: Dispatcher, fake_wechat: FakeWechatApi
) -> None:
    with clock.frozen(MORNING):
        queued_before = _wechat(alert_type="transaction")
        opt_out("wechat", OPENID, source="wechat:unsubscribe")
        queued_after = _wechat("another", kind="system")
        other = _wechat("to someone else", kind="system", address="oSomeoneElse")
        stats = dispatcher.run_once()
    assert (stats.suppressed, stats.sent) == (2, 1)
    assert (_row(queued_before).status, _row(queued_after).status) == ("suppressed", "suppressed")
    assert _row(other).status == "sent"
    assert [c["touser"] for c in fake_wechat.calls(TEXT)] == ["oSomeoneElse"]
    assert fake_wechat.calls(TEMPLATE) == []


def test_43004_opts_the_openid_out_and_fails_the_row(
    dispatcher: Dispatcher, fake_wechat: FakeWechatApi
) -> None:
    fake_wechat.script("43004")
    with clock.frozen(MORNING):
        first = _wechat(alert_type="transaction")
        assert dispatcher.run_once().failed == 1
        row = _row(first)
        assert row.status == "failed"
        assert "43004" in (row.last_error or "")
        assert is_opted_out("wechat", OPENID)
        assert not is_opted_out("sms", OPENID)
        later = _wechat("after unfollowing", kind="system")
        assert dispatcher.run_once().suppressed == 1
    assert _row(later).status == "suppressed"
    assert fake_wechat.received == []


def test_43101_fails_the_row_without_opting_out(
    dispatcher: Dispatcher, fake_wechat: FakeWechatApi
) -> None:
    """The follower refused template messages: this one fails; texts may still reach them."""
    fake_wechat.script("43101")
    with clock.frozen(MORNING):
        outbox_id = _wechat(alert_type="transaction")
        assert dispatcher.run_once().failed == 1
    assert _row(outbox_id).status == "failed"
    assert not is_opted_out("wechat", OPENID)


@pytest.mark.parametrize("answer", ["-1", "45009", "500", "hang"])
def test_a_transient_failure_is_retried_after_a_back_off(
    dispatcher: Dispatcher, fake_wechat: FakeWechatApi, answer: str
) -> None:
    fake_wechat.script(answer)
    with clock.frozen(MORNING):
        outbox_id = _wechat(alert_type="transaction")
        assert dispatcher.run_once().retried == 1
        row = _row(outbox_id)
        assert (row.status, row.attempts) == ("queued", 1)
        assert row.next_attempt_at == MORNING + dt.timedelta(seconds=30)
        assert dispatcher.run_once().claimed == 0  # not before the back-off ends
    with clock.frozen(MORNING + dt.timedelta(seconds=30)):
        assert dispatcher.run_once().sent == 1
    row = _row(outbox_id)
    assert (row.status, row.attempts) == ("sent", 2)
    assert len(fake_wechat.calls(TEMPLATE)) == 1


def test_a_resend_after_a_lost_answer_is_dropped_by_client_msg_id(
    dispatcher: Dispatcher, fake_wechat: FakeWechatApi
) -> None:
    """WeChat took the message but its answer was lost: the retry carries the same
    client_msg_id, and the follower gets one message."""
    with clock.frozen(MORNING):
        outbox_id = _wechat(alert_type="transaction")
        assert dispatcher.run_once().sent == 1
        row = _row(outbox_id)
        row.status, row.provider_id = "queued", None  # as if the answer never came
        db.session.flush()
        assert dispatcher.run_once().sent == 1
    assert len(fake_wechat.calls(TEMPLATE)) == 1
    sends = [r for r in fake_wechat.requests if r["path"] == TEMPLATE]
    assert len(sends) == 2


def test_the_console_provider_logs_and_marks_sent(
    app: Flask, fake_wechat: FakeWechatApi, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="laoyou.wechat.api")
    dispatcher = Dispatcher(app, wechat_sender=WechatConsoleSender(), sleep=lambda s: None)
    with clock.frozen(MORNING):
        outbox_id = _wechat(alert_type="transaction")
        assert dispatcher.run_once().sent == 1
    row = _row(outbox_id)
    assert (row.status, row.sender) == ("sent", "wechat-console")
    assert ALERT in caplog.text
    assert OPENID not in caplog.text  # openids are shortened in the log
    assert fake_wechat.requests == []
