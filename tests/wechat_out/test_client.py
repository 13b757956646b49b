"""The WeChat API client against the fake on 127.0.0.1: the shared token, its refreshes,
the calls' bytes, and how every kind of failure is classified."""

from __future__ import annotations

import datetime as dt
import json
import socket
import time
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from app import clock
from app.db import db
from app.messaging.models import WechatAccessToken
from app.messaging.providers.wechat import (
    WechatClient,
    WechatPermanentError,
    WechatTransientError,
    wechat_client,
)
from app.messaging.providers.wechat_fake import FakeWechatApi
from tests.wechat_out.support import APP_ID, APP_SECRET, OPENID

NOW = dt.datetime(2026, 11, 23, 2, 0, tzinfo=dt.UTC)
TEMPLATE = "/cgi-bin/message/template/send"
TEXT = "/cgi-bin/message/custom/send"


def _stored() -> WechatAccessToken | None:
    db.session.expire_all()
    return db.session.scalar(select(WechatAccessToken).where(WechatAccessToken.app_id == APP_ID))


def test_the_token_is_fetched_once_kept_in_the_database_and_used_on_every_call(
    app: Flask, fake_wechat: FakeWechatApi
) -> None:
    client = wechat_client(app)
    with clock.frozen(NOW):
        client.send_text(OPENID, "你好")
        client.send_text(OPENID, "再见")
    [token_request] = fake_wechat.token_requests()
    assert token_request["query"] == {
        "grant_type": "client_credential",
        "appid": APP_ID,
        "secret": APP_SECRET,
    }
    [issued] = fake_wechat.tokens_issued
    row = _stored()
    assert row is not None and row.token == issued
    assert row.expires_at == NOW + dt.timedelta(seconds=7200)
    calls = [r for r in fake_wechat.requests if r["path"] == TEXT]
    assert [c["query"]["access_token"] for c in calls] == [issued, issued]
    assert fake_wechat.calls(TEXT) == [
        {"touser": OPENID, "msgtype": "text", "text": {"content": "你好"}},
        {"touser": OPENID, "msgtype": "text", "text": {"content": "再见"}},
    ]


def test_a_second_client_reads_the_token_from_the_database(
    app: Flask, fake_wechat: FakeWechatApi
) -> None:
    with clock.frozen(NOW):
        first = wechat_client(app).access_token()
        # Another process: its own client, nothing in memory.
        second = WechatClient.from_config(app.config).access_token()
    assert first == second
    assert len(fake_wechat.token_requests()) == 1


def test_the_token_is_refreshed_a_few_minutes_before_it_expires(
    app: Flask, fake_wechat: FakeWechatApi
) -> None:
    client = wechat_client(app)
    with clock.frozen(NOW):
        first = client.access_token()
    with clock.frozen(NOW + dt.timedelta(seconds=7200 - 6 * 60)):
        assert client.access_token() == first
        assert WechatClient.from_config(app.config).access_token() == first
    later = NOW + dt.timedelta(seconds=7200 - 4 * 60)
    with clock.frozen(later):
        second = client.access_token()
        # The other process finds the new one in the table.
        assert WechatClient.from_config(app.config).access_token() == second
    assert second != first
    assert len(fake_wechat.token_requests()) == 2
    row = _stored()
    assert row is not None and row.token == second
    assert row.expires_at == later + dt.timedelta(seconds=7200)


@pytest.mark.parametrize("errcode", ["40001", "42001", "40014"])
def test_a_refused_token_is_refreshed_once_and_the_call_repeated(
    app: Flask, fake_wechat: FakeWechatApi, errcode: str
) -> None:
    client = wechat_client(app)
    with clock.frozen(NOW):
        client.access_token()
        fake_wechat.script(errcode)
        client.send_text(OPENID, "hello")
    first, second = fake_wechat.tokens_issued
    tries = [r for r in fake_wechat.requests if r["path"] == TEXT]
    assert [t["query"]["access_token"] for t in tries] == [first, second]
    assert len(fake_wechat.calls(TEXT)) == 1
    row = _stored()
    assert row is not None and row.token == second


@pytest.mark.parametrize("how", ["expire", "revoke"])
def test_a_token_wechat_ended_is_replaced(app: Flask, fake_wechat: FakeWechatApi, how: str) -> None:
    """The fake's own checks, not a script: 42001 for an expired token, 40001 for a replaced one."""
    client = wechat_client(app)
    with clock.frozen(NOW):
        client.access_token()
        fake_wechat.expire_tokens() if how == "expire" else fake_wechat.revoke_tokens()
        client.send_text(OPENID, "hello")
    assert len(fake_wechat.tokens_issued) == 2
    assert [r.get("answer") for r in fake_wechat.requests if r["path"] == TEXT] == [
        "42001" if how == "expire" else "40001",
        "ok",
    ]


def test_a_token_refused_twice_is_not_refreshed_again(
    app: Flask, fake_wechat: FakeWechatApi
) -> None:
    client = wechat_client(app)
    fake_wechat.script("40001", "40001")
    with clock.frozen(NOW), pytest.raises(WechatTransientError) as caught:
        client.send_text(OPENID, "hello")
    assert caught.value.code == 40001
    assert len(fake_wechat.token_requests()) == 2
    assert fake_wechat.calls(TEXT) == []


def test_a_fresher_token_from_another_process_is_used_without_asking_wechat(
    app: Flask, fake_wechat: FakeWechatApi
) -> None:
    """A stale token in memory, refused: the table already holds the newer one."""
    ours = WechatClient.from_config(app.config)
    theirs = WechatClient.from_config(app.config)
    with clock.frozen(NOW):
        old = ours.access_token()
        fake_wechat.revoke_tokens()
        new = theirs.access_token(stale=old)  # the other process met 40001 first
        ours.send_text(OPENID, "hello")
    assert new != old
    assert fake_wechat.tokens_issued == [old, new]
    tries = [r["query"]["access_token"] for r in fake_wechat.requests if r["path"] == TEXT]
    assert tries == [old, new]


def test_template_messages_go_out_as_utf8_json(app: Flask, fake_wechat: FakeWechatApi) -> None:
    client = wechat_client(app)
    with clock.frozen(NOW):
        msgid = client.send_template(
            OPENID, "tpl-1", {"content": {"value": "消费 12.50 元"}}, client_msg_id="outbox-7"
        )
    [sent] = [r for r in fake_wechat.received if r["path"] == TEMPLATE]
    assert "消费 12.50 元".encode() in sent["raw"]
    assert json.loads(sent["raw"]) == {
        "touser": OPENID,
        "template_id": "tpl-1",
        "data": {"content": {"value": "消费 12.50 元"}},
        "client_msg_id": "outbox-7",
    }
    assert msgid.isdigit()
    request = next(r for r in fake_wechat.requests if r["path"] == TEMPLATE)
    assert request["query"]["access_token"] == fake_wechat.tokens_issued[0]


@pytest.mark.parametrize(
    ("answer", "code"),
    [("-1", -1), ("45009", 45009), ("45011", 45011), ("500", None), ("garbage", None)],
)
def test_busy_rate_limited_and_broken_answers_are_transient(
    app: Flask, fake_wechat: FakeWechatApi, answer: str, code: int | None
) -> None:
    fake_wechat.script(answer)
    with clock.frozen(NOW), pytest.raises(WechatTransientError) as caught:
        wechat_client(app).send_text(OPENID, "hello")
    assert caught.value.code == code
    assert fake_wechat.calls(TEXT) == []


@pytest.mark.parametrize("code", [43004, 43101, 40003, 40037, 45015])
def test_refusals_of_the_message_are_permanent(
    app: Flask, fake_wechat: FakeWechatApi, code: int
) -> None:
    fake_wechat.script(str(code))
    with clock.frozen(NOW), pytest.raises(WechatPermanentError) as caught:
        wechat_client(app).send_text(OPENID, "hello")
    assert caught.value.code == code
    assert str(code) in str(caught.value)


def test_a_timeout_is_transient(app: Flask, fake_wechat: FakeWechatApi) -> None:
    fake_wechat.script("hang")
    started = time.monotonic()
    with clock.frozen(NOW), pytest.raises(WechatTransientError, match="timeout"):
        wechat_client(app).send_text(OPENID, "hello")
    # WECHAT_API_TIMEOUT_SECONDS=1: the client gave up, it did not wait for the fake.
    assert time.monotonic() - started < 5


def test_no_server_is_transient_and_the_secret_stays_out_of_the_error(app: Flask) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = WechatClient(f"http://127.0.0.1:{port}", APP_ID, APP_SECRET, 1.0)
    with clock.frozen(NOW), pytest.raises(WechatTransientError) as caught:
        client.send_text(OPENID, "hello")
    assert "ConnectionError" in str(caught.value)
    assert APP_SECRET not in str(caught.value)
    assert _stored() is None  # the refresh's transaction rolled back with the failure


@pytest.mark.parametrize(
    ("app_id", "secret", "code"),
    [(APP_ID, "wrong-secret", 40125), ("wx-unknown", APP_SECRET, 40013)],
)
def test_wrong_credentials_are_transient_until_the_configuration_is_fixed(
    app: Flask, fake_wechat: FakeWechatApi, app_id: str, secret: str, code: int
) -> None:
    client = WechatClient(fake_wechat.base_url, app_id, secret, 1.0)
    with clock.frozen(NOW), pytest.raises(WechatTransientError) as caught:
        client.send_text(OPENID, "hello")
    assert caught.value.code == code
    assert "wrong-secret" not in str(caught.value)
    assert [r["path"] for r in fake_wechat.requests] == ["/cgi-bin/token"]


def test_menu_and_qr_calls(app: Flask, fake_wechat: FakeWechatApi) -> None:
    client = wechat_client(app)
    menu: dict[str, Any] = {"button": [{"type": "click", "name": "积分", "key": "points"}]}
    with clock.frozen(NOW):
        client.create_menu(menu)
        temporary = client.create_qr_ticket("scene-1", permanent=False, expire_seconds=600)
        permanent = client.create_qr_ticket("scene-2", permanent=True)
    assert fake_wechat.calls("/cgi-bin/menu/create") == [menu]
    assert fake_wechat.calls("/cgi-bin/qrcode/create") == [
        {
            "action_name": "QR_STR_SCENE",
            "action_info": {"scene": {"scene_str": "scene-1"}},
            "expire_seconds": 600,
        },
        {"action_name": "QR_LIMIT_STR_SCENE", "action_info": {"scene": {"scene_str": "scene-2"}}},
    ]
    assert temporary.expire_seconds == 600
    assert permanent.expire_seconds is None
    assert temporary.show_url.startswith("https://mp.weixin.qq.com/cgi-bin/showqrcode?ticket=gQ")
    assert temporary.url.startswith("http://weixin.qq.com/q/")
