"""A checkout at the counter reaches a member bound on WeChat as a template message."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from flask import Flask

from app import clock
from app.members.wechat import bind_openid
from app.messaging.dispatcher import Dispatcher
from app.messaging.providers.wechat_fake import FakeWechatApi
from tests.wechat_out.support import OPENID, TEMPLATE_TRANSACTION

MORNING = dt.datetime(2026, 11, 23, 2, 0, tzinfo=dt.UTC)
TEMPLATE = "/cgi-bin/message/template/send"
TEXT = "/cgi-bin/message/custom/send"


def _pay(api: Any, member: Any, key: str) -> None:
    recharge = api.post(
        f"/api/v1/cards/{member.phone}/recharge",
        json={"amount_fen": 10000, "store": "SH01"},
        headers={"Idempotency-Key": f"{key}-r"},
    )
    assert recharge.status_code == 201, recharge.json
    checkout = api.post(
        "/api/v1/checkout",
        json={
            "card": member.phone,
            "store": "SH01",
            "amount_fen": 1250,
            "pay_with": "stored_value",
        },
        headers={"Idempotency-Key": f"{key}-c"},
    )
    assert checkout.status_code == 201, checkout.json


def test_a_bound_members_checkout_alert_arrives_as_a_wechat_template(
    app: Flask, api: Any, make_member: Any, fake_wechat: FakeWechatApi
) -> None:
    member = make_member("+8613800138000")
    bind_openid(OPENID, member, via="code")
    with clock.frozen(MORNING):
        _pay(api, member, "k1")
        stats = Dispatcher(app, sleep=lambda _: None).run_once()
    assert stats.sent == 2  # the recharge's alert and the checkout's
    sent = [json.loads(r["raw"]) for r in fake_wechat.received if r["path"] == TEMPLATE]
    assert [(s["touser"], s["template_id"]) for s in sent] == [(OPENID, TEMPLATE_TRANSACTION)] * 2
    checkout_text = sent[1]["data"]["content"]["value"]
    assert "12.50" in checkout_text and "87.50" in checkout_text
    assert fake_wechat.calls(TEXT) == []


def test_an_unsubscribed_member_hears_nothing_more_on_wechat(
    app: Flask, api: Any, make_member: Any, fake_wechat: FakeWechatApi
) -> None:
    from app.optout.services import opt_out

    member = make_member("+8613800138000")
    bind_openid(OPENID, member, via="code")
    opt_out("wechat", OPENID, source="wechat:unsubscribe")
    with clock.frozen(MORNING):
        _pay(api, member, "k2")
        stats = Dispatcher(app, sleep=lambda _: None).run_once()
    assert (stats.sent, stats.suppressed) == (0, 2)
    assert [r for r in fake_wechat.received if r["path"] in (TEMPLATE, TEXT)] == []
