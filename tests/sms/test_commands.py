"""The real engine behind the real webhook, in three languages (the full matrix is
tested against the engine in tests/bot; here: that the SMS channel carries it)."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app import clock
from app.db import db
from app.members.models import Member
from app.messaging.dispatcher import Dispatcher
from app.messaging.models import InboundMessage
from app.messaging.services import enqueue
from tests.sms.fake_twilio import FakeTwilio
from tests.sms.support import inbound_params, post_signed, twilio_settings

_sids = itertools.count(1)
MORNING = dt.datetime(2026, 11, 23, 2, 0, tzinfo=dt.UTC)


@pytest.fixture
def app_config(fake_twilio: FakeTwilio) -> dict[str, Any]:
    return twilio_settings(fake_twilio.base_url)


@pytest.fixture
def text(client: FlaskClient, make_store: Callable[..., Any]) -> Callable[[str, str], str]:
    """``text(phone, body)`` → the reply Twilio would send back ("" when silent)."""
    make_store("SH01", "静安店")

    def send(phone: str, body: str) -> str:
        sid = f"SM{next(_sids):032d}"
        response = post_signed(client, "/sms/twilio", inbound_params(phone, body, sid))
        assert response.status_code == 200, response.get_data(as_text=True)
        xml = response.get_data(as_text=True)
        if "<Message>" not in xml:
            assert xml.endswith("<Response />")
            return ""
        return xml.split("<Message>", 1)[1].rsplit("</Message>", 1)[0]

    return send


def _language_of_last_reply() -> str | None:
    row = db.session.scalars(select(InboundMessage).order_by(InboundMessage.id.desc())).first()
    return row.reply_language if row else None


@pytest.mark.parametrize(
    ("phone", "join", "points", "balance", "help_", "language", "marker"),
    [
        ("+8613800138000", "注册 张三", "积分", "余额", "帮助", "zh-Hans", "积分"),
        ("+85291234567", "註冊 陳大文", "積分", "餘額", "幫助", "zh-Hant", "積分"),
        ("+14155550100", "JOIN Amy", "POINTS", "BAL", "HELP", "en", "points"),
    ],
)
def test_join_points_balance_help_in_each_language(
    app: Flask,
    text: Callable[[str, str], str],
    phone: str,
    join: str,
    points: str,
    balance: str,
    help_: str,
    language: str,
    marker: str,
) -> None:
    welcome = text(phone, join)
    member = db.session.scalar(select(Member).where(Member.phone == phone))
    assert member is not None and member.language == language
    assert phone.lstrip("+")[-8:] in welcome  # the phone is the card number
    assert _language_of_last_reply() == language
    assert marker in text(phone, points).lower()
    assert "0.00" in text(phone, balance)
    assert text(phone, help_)
    assert _language_of_last_reply() == language


def test_full_width_and_lower_case_keywords(text: Callable[[str, str], str]) -> None:
    phone = "+8613800138001"
    text(phone, "ZC")
    assert text(phone, "ｊｆ") == text(phone, "JF") == text(phone, "积分")


def test_stranger_is_told_how_to_join(text: Callable[[str, str], str]) -> None:
    assert "JOIN" in text("+14155550101", "POINTS")
    assert _language_of_last_reply() == "en"


def test_opt_out_then_only_the_confirmation_then_opt_in(
    app: Flask, text: Callable[[str, str], str], fake_twilio: FakeTwilio
) -> None:
    phone = "+8613800138002"
    text(phone, "注册")
    confirmation = text(phone, "TD")
    assert confirmation
    assert text(phone, "TD") == ""  # the one confirmation was already sent
    assert text(phone, "积分") == ""
    with clock.frozen(MORNING):
        enqueue(address=phone, body="an alert after the opt-out", kind="alert")
        stats = Dispatcher(app, sleep=lambda s: None).run_once()
    assert stats.suppressed == 1
    assert fake_twilio.messages == []
    assert text(phone, "订阅")
    assert "积分" in text(phone, "积分")
    with clock.frozen(MORNING):
        enqueue(address=phone, body="an alert after the opt-in", kind="alert")
        Dispatcher(app, sleep=lambda s: None).run_once()
    assert fake_twilio.bodies() == ["an alert after the opt-in"]


def test_a_sentence_with_stop_in_it_is_not_an_opt_out(
    app: Flask, text: Callable[[str, str], str]
) -> None:
    phone = "+14155550102"
    text(phone, "JOIN")
    assert text(phone, "stop sending me ads please")
    assert text(phone, "POINTS")


def test_alerts_keyword_switches_alerts_off(app: Flask, text: Callable[[str, str], str]) -> None:
    from app.members.services import alert_preferences

    phone = "+14155550103"
    text(phone, "JOIN")
    assert text(phone, "ALERTS OFF TRANSACTION")
    member = db.session.scalar(select(Member).where(Member.phone == phone))
    assert alert_preferences(member)["transaction"] is False


def test_replayed_join_creates_one_member(client: FlaskClient, make_store: Any) -> None:
    make_store("SH01")
    params = inbound_params("+8613800138003", "注册 李四", "SMjoinonce")
    first = post_signed(client, "/sms/twilio", params)
    second = post_signed(client, "/sms/twilio", params)
    assert first.get_data() == second.get_data()
    members = db.session.scalars(select(Member).where(Member.phone == "+8613800138003")).all()
    assert len(members) == 1
    assert len(db.session.scalars(select(InboundMessage)).all()) == 1


def test_points_by_sms_name_the_level_in_the_members_language(
    text: Callable[[str, str], str], make_member: Callable[..., Any], make_level: Any
) -> None:
    """Through the signed webhook (its own sender lookup): no "(普通会员)" for an English member."""
    level = make_level("普通会员", 1)
    level.name_en, level.name_zh_hant = "Regular member", "普通會員"
    english = make_member("+14155550177", language="en")
    english.level = level
    traditional = make_member("+85291234567", language="zh-Hant")
    traditional.level = level
    db.session.flush()
    assert text("+14155550177", "积分") == "Your points: 0 (Regular member)."
    assert text("+85291234567", "POINTS") == "您的積分：0 分，普通會員。"
