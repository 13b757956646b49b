"""What leaves through the outbox: the code's SMS is sent by the dispatcher, and nothing goes
to an openid that unsubscribed."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Flask

from app import clock
from app.db import db
from app.members.wechat import bind_openid
from app.messaging.dispatcher import Dispatcher
from app.messaging.models import OutboxMessage
from app.messaging.services import enqueue
from tests.wechat_member.conftest import OPENID, PHONE, code_sent_to, sms_to

#: 10:00 in Shanghai: outside quiet hours.
MORNING = dt.datetime(2027, 3, 1, 2, 0, tzinfo=dt.UTC)


def test_the_code_goes_out_by_sms(app: Flask, wechat: Any, make_member: Any) -> None:
    make_member(PHONE)
    with clock.frozen(MORNING):
        wechat(OPENID).text("绑定 13800138000")
        stats = Dispatcher(app, sleep=lambda s: None).run_once()
    assert stats.sent == 1
    [sms] = sms_to(PHONE)
    db.session.refresh(sms)
    assert sms.status == "sent"
    assert code_sent_to(PHONE) in (sms.sent_body or "")
    # A retried request (same MsgId) queues no second SMS.
    follower = wechat(OPENID)
    follower.send("绑定 13800138000", msg_id="MSG-RETRY-1")
    follower.send("绑定 13800138000", msg_id="MSG-RETRY-1")
    assert len(sms_to(PHONE)) == 2


def test_nothing_is_sent_to_an_openid_that_unsubscribed(
    app: Flask, wechat: Any, make_member: Any
) -> None:
    member = make_member(PHONE)
    bind_openid(OPENID, member, via="code")
    wechat(OPENID).event("unsubscribe")
    with clock.frozen(MORNING):
        outbox_id = enqueue(
            address=OPENID,
            body="您的卡消费 ¥12.00",
            kind="alert",
            channel="wechat",
            member=member,
            dedupe_key="test:alert-after-unsubscribe",
        )
        Dispatcher(app, sleep=lambda s: None).run_once()
    row = db.session.get(OutboxMessage, outbox_id)
    assert row is not None
    db.session.refresh(row)
    # Never handed to a provider: the dispatcher suppressed it at send time.
    assert row.status == "suppressed"
    assert row.provider_id is None and row.attempts == 0
