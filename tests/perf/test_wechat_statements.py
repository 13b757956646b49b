"""What one WeChat text costs in statements: the SMS path's four, whatever the mode (the
signatures, the XML and the AES cost no round trip)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.cards.services import member_cards
from app.clock import frozen
from app.db import db
from app.members.wechat import bind_openid
from tests.bot.support import give_points
from tests.perf.test_webhook_statements import CST, _statements_of
from tests.wechat.support import WeChatServer, next_msg_id, text_xml, wechat_settings

pytestmark = pytest.mark.perf

OPENID = "oPerf000000000000000000001"


@pytest.fixture
def app_config() -> dict[str, Any]:
    return wechat_settings()


@pytest.mark.parametrize("reply_first", [True, False], ids=["reply-first", "claim-first"])
def test_points_in_safe_mode_costs_three_statements_or_four_claimed_first(
    app: Flask, client: FlaskClient, make_member: Any, make_level: Any, reply_first: bool
) -> None:
    app.config["INBOUND_REPLY_FIRST"] = reply_first
    member = make_member("+8613800138000", language="zh-Hans")
    member.level = make_level("金卡", 3)
    bind_openid(OPENID, member, via="code")
    safe = WeChatServer(client, "safe")
    with frozen(dt.datetime(2026, 12, 1, 10, 0, tzinfo=CST)):
        give_points(member_cards(member)[0], 1080)
        db.session.flush()
        db.session.expunge_all()
        sent, statements = _statements_of(app, lambda: safe.text(OPENID, "积分"))
    assert sent.content.startswith("您的积分：1,080")
    if reply_first:
        # The bound member's profile (language, level, WeChat opt-out), the points summary,
        # then the claim with the reply.
        assert statements[-1].startswith("INSERT INTO inbound_message")
        assert len(statements) == 3, statements
    else:
        # The claim, the profile, the points summary, the reply.
        assert statements[0].startswith("INSERT INTO inbound_message")
        assert statements[-1].startswith("UPDATE inbound_message")
        assert len(statements) == 4, statements


def test_a_retry_claimed_first_costs_two_statements(app: Flask, client: FlaskClient) -> None:
    app.config["INBOUND_REPLY_FIRST"] = False
    plain = WeChatServer(client, "plain")
    body = text_xml(OPENID, "帮助", next_msg_id())
    first = plain.post(body)
    replay, statements = _statements_of(app, lambda: plain.post(body))
    assert replay.content == first.content
    assert len(statements) == 2, statements
