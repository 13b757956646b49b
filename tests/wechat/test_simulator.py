"""``laoyou wechat simulate`` and the simulator page's WeChat tab (console providers only)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select

from app.bot import engine
from app.bot.message import Message, Reply
from app.db import db
from app.members.wechat import bind_openid
from app.messaging.models import InboundMessage
from app.messaging.services import enqueue

OPENID = "oSimulated0000000000000001"


@pytest.fixture(autouse=True)
def _store(make_store: Callable[..., Any]) -> None:
    make_store("SH01", "静安店")


def _token(client: FlaskClient) -> str:
    match = re.search(
        r'name="csrf_token" value="([^"]+)"', client.get("/sms/simulator").get_data(as_text=True)
    )
    assert match
    return match.group(1)


def test_cli_simulate_prints_the_reply(runner: FlaskCliRunner, make_member: Any) -> None:
    bind_openid(OPENID, make_member("+8613700000055", name="周"), via="code")
    result = runner.invoke(args=["wechat", "simulate", OPENID, "积分"])
    assert result.exit_code == 0, result.output
    assert result.output == "您的积分：0 分。\n"
    row = db.session.scalars(select(InboundMessage)).one()
    assert (row.channel, row.sender, row.text) == ("wechat", OPENID, "积分")


def test_cli_simulate_prints_what_the_message_queued(
    runner: FlaskCliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    enqueue(address=OPENID, body="queued before", kind="alert")

    def engine_that_queues(message: Message) -> Reply:
        enqueue(address="+8613800138000", body="您的验证码是 123456", kind="system")
        enqueue(address=message.sender, body="欢迎关注", kind="alert")
        return Reply("验证码已发送", "zh-Hans", "bind")

    monkeypatch.setattr(engine, "handle_message", engine_that_queues)
    result = runner.invoke(args=["wechat", "simulate", OPENID, "绑定 13800138000"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "验证码已发送"
    assert lines[2] == "queued by this message:"
    assert re.fullmatch(r"  #\d+ system to \+8613800138000 queued: 您的验证码是 123456", lines[3])
    assert re.fullmatch(r"  #\d+ alert queued: 欢迎关注", lines[4])
    assert len(lines) == 5


def test_cli_simulate_silent_and_bad_openid(runner: FlaskCliRunner) -> None:
    assert runner.invoke(args=["wechat", "simulate", OPENID, "TD"]).exit_code == 0
    assert runner.invoke(args=["wechat", "simulate", OPENID, "积分"]).output == "(no reply)\n"
    bad = runner.invoke(args=["wechat", "simulate", "o penid<script>", "积分"])
    assert bad.exit_code == 1 and "openid" in bad.output


def test_the_page_has_a_wechat_tab(client: FlaskClient) -> None:
    page = client.get("/sms/simulator").get_data(as_text=True)
    assert 'id="wechat-tab"' in page and 'name="openid"' in page


def test_typing_as_an_openid_gets_the_reply_and_its_outbox(
    client: FlaskClient, make_member: Any
) -> None:
    bind_openid(OPENID, make_member("+8613700000056", language="en"), via="code")
    enqueue(address=OPENID, body="Card *0056: spent 1.00 yuan", kind="alert")
    token = _token(client)
    response = client.post(
        "/sms/simulator/wechat",
        json={"openid": OPENID, "text": "积分"},
        headers={"X-CSRFToken": token},
    )
    assert response.status_code == 200
    data = response.get_json()
    assert data["reply"] == "Your points: 0." and not data["silent"]
    assert [row["text"] for row in data["outbox"]] == ["Card *0056: spent 1.00 yuan"]
    assert data["queued"] == []
    outbox = client.get("/sms/simulator/wechat/outbox", query_string={"openid": OPENID})
    assert [row["kind"] for row in outbox.get_json()["outbox"]] == ["alert"]


def test_the_wechat_tab_refuses_without_csrf_and_bad_input(client: FlaskClient) -> None:
    assert (
        client.post("/sms/simulator/wechat", json={"openid": OPENID, "text": "积分"}).status_code
        == 400
    )
    token = _token(client)
    for payload in ({"openid": "", "text": "积分"}, {"openid": OPENID, "text": "x" * 3000}):
        response = client.post(
            "/sms/simulator/wechat", json=payload, headers={"X-CSRFToken": token}
        )
        assert response.status_code == 400
    assert db.session.scalars(select(InboundMessage)).all() == []


def test_the_wechat_tab_is_404_with_the_real_wechat_api(app: Flask, client: FlaskClient) -> None:
    app.config["WECHAT_PROVIDER"] = "api"
    assert 'id="wechat-tab"' not in client.get("/sms/simulator").get_data(as_text=True)
    assert client.post("/sms/simulator/wechat", json={}).status_code == 404
    assert client.get("/sms/simulator/wechat/outbox?openid=o1").status_code == 404
