"""Scene QR codes for the station: ``POST /api/v1/members/<ref>/wechat-qr`` and
``laoyou wechat qr``; the scene row the webhook binds with, WeChat's ticket, bad input."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask
from sqlalchemy import func, select

from app import clock
from app.db import db
from app.messaging.providers.wechat_fake import FakeWechatApi
from app.wechat.models import WechatScene
from tests.api.test_api_openapi import Checker

NOW = dt.datetime(2026, 11, 23, 2, 0, tzinfo=dt.UTC)
PHONE = "+8613800138000"
QR = "/cgi-bin/qrcode/create"
PATH = "/api/v1/members/13800138000/wechat-qr"


@pytest.fixture
def check(app: Flask, client: Any) -> Checker:
    return Checker(app, client.get("/api/v1/openapi.json").json)


@pytest.fixture
def member(make_member: Any) -> Any:
    return make_member(PHONE)


def _scenes() -> list[WechatScene]:
    db.session.expire_all()
    return list(db.session.scalars(select(WechatScene).order_by(WechatScene.id)))


def test_a_temporary_qr_for_a_member(
    api: Any, check: Checker, member: Any, fake_wechat: FakeWechatApi
) -> None:
    with clock.frozen(NOW):
        response = check(api.post(PATH, json={"expire_seconds": 1800}))
    assert response.status_code == 201, response.json
    [scene] = _scenes()
    [asked] = fake_wechat.calls(QR)
    assert asked == {
        "action_name": "QR_STR_SCENE",
        "action_info": {"scene": {"scene_str": scene.scene}},
        "expire_seconds": 1800,
    }
    assert scene.member_id == member.id
    assert len(scene.scene) == 32 and scene.used_at is None and not scene.permanent
    assert scene.expires_at == NOW + dt.timedelta(seconds=1800)
    assert response.json == {
        "ticket": scene.ticket,
        "url": "https://mp.weixin.qq.com/cgi-bin/showqrcode?ticket=" + quote(scene.ticket or ""),
        "qr_url": response.json["qr_url"],
        "permanent": False,
        "expires_at": "2026-11-23T02:30:00+00:00",
    }
    assert response.json["qr_url"].startswith("http://weixin.qq.com/q/")


def test_the_default_is_a_temporary_qr_for_a_week(
    api: Any, member: Any, fake_wechat: FakeWechatApi
) -> None:
    with clock.frozen(NOW):
        response = api.post(PATH, json={})
    assert response.status_code == 201, response.json
    assert fake_wechat.calls(QR)[0]["expire_seconds"] == 7 * 24 * 3600
    assert _scenes()[0].expires_at == NOW + dt.timedelta(days=7)


def test_a_permanent_qr(api: Any, check: Checker, member: Any, fake_wechat: FakeWechatApi) -> None:
    with clock.frozen(NOW):
        response = check(api.post(PATH, json={"permanent": True, "expire_seconds": 600}))
    assert response.status_code == 201, response.json
    [scene] = _scenes()
    assert fake_wechat.calls(QR) == [
        {"action_name": "QR_LIMIT_STR_SCENE", "action_info": {"scene": {"scene_str": scene.scene}}}
    ]
    assert (scene.permanent, scene.expires_at) == (True, None)
    assert (response.json["permanent"], response.json["expires_at"]) == (True, None)


def test_every_qr_has_its_own_unguessable_scene(
    api: Any, member: Any, fake_wechat: FakeWechatApi
) -> None:
    with clock.frozen(NOW):
        for _ in range(3):
            assert api.post(PATH, json={}).status_code == 201
    scenes = [s.scene for s in _scenes()]
    assert len(set(scenes)) == 3
    assert all(len(s) == 32 and PHONE[-4:] not in s for s in scenes)


def test_an_unknown_member_is_404_and_asks_wechat_nothing(
    api: Any, check: Checker, member: Any, fake_wechat: FakeWechatApi
) -> None:
    response = check(api.post("/api/v1/members/13912345678/wechat-qr", json={}))
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"
    assert fake_wechat.requests == [] and _scenes() == []


@pytest.mark.parametrize(
    "body",
    [
        {"expire_seconds": 0},
        {"expire_seconds": 59},
        {"expire_seconds": 2_592_001},
        {"expire_seconds": 10**18},
        {"expire_seconds": -60},
        {"expire_seconds": "600"},
        {"expire_seconds": 600.5},
        {"expire_seconds": True},
        {"permanent": "yes"},
        {"permanent": 1},
        {"scene": "mine"},
        ["permanent"],
    ],
)
def test_absurd_input_is_400_and_changes_nothing(
    api: Any, check: Checker, member: Any, fake_wechat: FakeWechatApi, body: Any
) -> None:
    response = check(api.post(PATH, json=body))
    assert response.status_code == 400, response.json
    assert response.json["error"]["code"] == "invalid_request"
    assert fake_wechat.requests == [] and _scenes() == []


def test_nul_and_no_key(api: Any, client: Any, check: Checker, member: Any) -> None:
    assert check(api.post("/api/v1/members/138%0000/wechat-qr", json={})).status_code == 400
    assert check(client.post(PATH, json={})).status_code == 401
    assert check(api.post(PATH, data="x", content_type="text/plain")).status_code == 415
    assert _scenes() == []


@pytest.mark.parametrize(
    ("answer", "status", "code"),
    [
        ("-1", 503, "wechat_unavailable"),
        ("hang", 503, "wechat_unavailable"),
        ("40003", 502, "wechat_refused"),
        ("47001", 502, "wechat_refused"),
    ],
)
def test_wechat_failing_is_a_clear_error_and_leaves_no_scene(
    api: Any,
    check: Checker,
    member: Any,
    fake_wechat: FakeWechatApi,
    answer: str,
    status: int,
    code: str,
) -> None:
    fake_wechat.script(answer)
    response = check(api.post(PATH, json={}))
    assert response.status_code == status, response.json
    assert response.json["error"]["code"] == code
    if status == 502:
        assert response.json["error"]["details"] == {"errcode": int(answer)}
    assert _scenes() == []


def test_not_configured_is_503(app: Flask, api: Any, check: Checker, member: Any) -> None:
    app.config.update(WECHAT_APP_ID="", WECHAT_APP_SECRET="")
    response = check(api.post(PATH, json={}))
    assert response.status_code == 503
    assert "WECHAT_APP_ID" in response.json["error"]["message"]


def test_the_cli_prints_the_ticket_and_draws_the_qr(
    runner: Any, member: Any, fake_wechat: FakeWechatApi
) -> None:
    with clock.frozen(NOW):
        result = runner.invoke(
            args=["wechat", "qr", "13800138000", "--expire-seconds", "3600", "--show"]
        )
    assert result.exit_code == 0, result.output
    [scene] = _scenes()
    lines = result.output.splitlines()
    assert lines[0] == f"ticket:  {scene.ticket}"
    assert lines[1].startswith("image:   https://mp.weixin.qq.com/cgi-bin/showqrcode?ticket=")
    assert lines[3] == "expires: 2026-11-23 11:00"  # Shanghai time
    assert "█" in result.output  # the QR itself, in the terminal
    assert fake_wechat.calls(QR)[0]["expire_seconds"] == 3600


def test_the_cli_permanent_and_unknown_member(
    runner: Any, member: Any, fake_wechat: FakeWechatApi
) -> None:
    result = runner.invoke(args=["wechat", "qr", PHONE, "--permanent"])
    assert result.exit_code == 0, result.output
    assert "expires: never" in result.output
    result = runner.invoke(args=["wechat", "qr", "13912345678"])
    assert result.exit_code == 1
    assert "no member or card matches" in result.output
    result = runner.invoke(args=["wechat", "qr", PHONE, "--expire-seconds", "5"])
    assert result.exit_code == 1
    assert "expire_seconds must be between 60 and 2592000" in result.output
    assert db.session.scalar(select(func.count()).select_from(WechatScene)) == 1
