"""The simulator page (console provider only) and ``laoyou sms simulate``."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select

from app.db import db
from app.members.models import Member
from app.messaging.services import enqueue


@pytest.fixture(autouse=True)
def _store(make_store: Callable[..., Any]) -> None:
    make_store("SH01", "静安店")


def _token(client: FlaskClient) -> str:
    page = client.get("/sms/simulator").get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match
    return match.group(1)


def test_page_is_served_with_the_console_provider(client: FlaskClient) -> None:
    response = client.get("/sms/simulator")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "<form" in page and 'name="phone"' in page and 'name="text"' in page
    assert "http://" not in page and "https://" not in page  # no external assets


def test_page_is_404_with_a_real_provider(app: Flask, client: FlaskClient) -> None:
    app.config["SMS_PROVIDER"] = "twilio"
    assert client.get("/sms/simulator").status_code == 404
    assert client.post("/sms/simulator", json={"phone": "13800138000"}).status_code == 404


def test_page_is_404_in_production(app: Flask, client: FlaskClient) -> None:
    app.config["LAOYOU_ENV"] = "production"
    assert client.get("/sms/simulator").status_code == 404


def test_typing_as_a_phone_gets_the_reply_and_that_numbers_outbox(client: FlaskClient) -> None:
    token = _token(client)
    enqueue(address="+8613800138000", body="【老友会员】会员日九折", kind="marketing")
    response = client.post(
        "/sms/simulator",
        json={"phone": "138 0013 8000", "text": "注册 王五"},
        headers={"X-CSRFToken": token},
    )
    assert response.status_code == 200
    data = response.get_json()
    assert data["phone"] == "+8613800138000"
    assert "王五" in data["reply"] and not data["silent"]
    assert [row["kind"] for row in data["outbox"]] == ["marketing"]
    assert data["outbox"][0]["text"] == "【老友会员】会员日九折回复TD退订"
    assert db.session.scalar(select(Member).where(Member.phone == "+8613800138000"))


def test_form_post_with_the_token_field_works_too(client: FlaskClient) -> None:
    token = _token(client)
    response = client.post(
        "/sms/simulator", data={"phone": "+8613800138000", "text": "帮助", "csrf_token": token}
    )
    assert response.status_code == 200
    assert response.get_json()["reply"]


def test_post_without_the_csrf_token_is_refused_and_changes_nothing(
    client: FlaskClient,
) -> None:
    response = client.post("/sms/simulator", json={"phone": "+8613800138000", "text": "注册"})
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "csrf"
    assert db.session.scalar(select(Member).where(Member.phone == "+8613800138000")) is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"phone": "not a phone", "text": "JF"}, "phone"),
        ({"phone": "13800138000", "text": "x" * 1601}, "text"),
    ],
)
def test_bad_input_gets_a_clear_error(
    client: FlaskClient, body: dict[str, str], field: str
) -> None:
    token = _token(client)
    response = client.post("/sms/simulator", json=body, headers={"X-CSRFToken": token})
    assert response.status_code == 400
    assert response.get_json()["error"]["details"]["field"] == field


def test_outbox_endpoint_lists_one_number(client: FlaskClient) -> None:
    enqueue(address="+8613800138000", body="mine", kind="alert")
    enqueue(address="+8613900139000", body="not mine", kind="alert")
    rows = client.get("/sms/simulator/outbox?phone=13800138000").get_json()["outbox"]
    assert [r["text"] for r in rows] == ["mine"]


def test_cli_simulate_prints_the_reply_and_only_what_the_message_queued(
    app: Flask, runner: FlaskCliRunner
) -> None:
    from app.signals import member_joined

    enqueue(address="+8613800138000", body="Card *8000: spent 1.00 yuan", kind="alert")

    def welcome(member: Any, **_: Any) -> None:
        enqueue(address=member.phone, body="欢迎光临静安店", kind="alert")
        enqueue(address="+8613900139000", body="新会员赵六", kind="alert")

    member_joined.connect(welcome)
    try:
        result = runner.invoke(args=["sms", "simulate", "+8613800138000", "注册 赵六"])
    finally:
        member_joined.disconnect(welcome)

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "赵六" in lines[0]
    assert lines[2] == "queued by this message:"
    assert re.fullmatch(r"  #\d+ alert queued: 欢迎光临静安店", lines[3])
    assert re.fullmatch(r"  #\d+ alert to \+8613900139000 queued: 新会员赵六", lines[4])
    assert len(lines) == 5
    assert "spent 1.00 yuan" not in result.output  # queued before, not by this message

    result = runner.invoke(args=["sms", "simulate", "+8613800138000", "积分"])
    assert result.exit_code == 0, result.output
    assert "积分" in result.output
    assert result.output.count("\n") == 1  # the reply alone: this message queued nothing


def test_cli_simulate_refuses_a_bad_number(runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["sms", "simulate", "12", "积分"])
    assert result.exit_code == 1
    assert "not a valid phone number" in result.output


def test_the_page_sets_the_session_cookie_its_csrf_token_needs(client: FlaskClient) -> None:
    response = client.get("/sms/simulator")
    assert response.status_code == 200
    assert "session=" in response.headers.get("Set-Cookie", "")


def test_a_nul_character_gets_the_polite_bad_input_reply(client: FlaskClient) -> None:
    from sqlalchemy import func

    from app.messaging.models import InboundMessage

    token = _token(client)
    response = client.post(
        "/sms/simulator",
        json={"phone": "+8613800138000", "text": "积分\x00"},
        headers={"X-CSRFToken": token},
    )
    assert response.status_code == 200
    assert response.get_json()["reply"] == "您的短信含有无法识别的字符，请只发送文字。"
    form = client.post(
        "/sms/simulator", data={"phone": "+8613800138000", "text": "\x00", "csrf_token": token}
    )
    assert form.get_json()["reply"] == "您的短信含有无法识别的字符，请只发送文字。"
    assert db.session.scalar(select(func.count()).select_from(InboundMessage)) == 0


def test_json_nested_too_deep_is_refused_not_a_500(client: FlaskClient) -> None:
    token = _token(client)
    response = client.post(
        "/sms/simulator",
        data="[" * 1000 + "]" * 1000,
        content_type="application/json",
        headers={"X-CSRFToken": token},
    )
    assert response.status_code == 400
