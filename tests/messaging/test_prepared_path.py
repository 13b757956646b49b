"""Which way an inbound answer's hot statements run: with ``DB_PREPARED_STATEMENTS`` on (the
default) on the driver's cursor (``app.db.prepared``), seen by no SQLAlchemy event; off,
through SQLAlchemy's ``Connection.execute``. The same reply and row either way; the plain
path's behaviour is tested in full by ``tests/sms/test_plain_execute.py`` and
``tests/wechat/test_plain_execute.py``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, select

from app.cards.services import member_cards
from app.db import db
from app.db.prepared import observed
from app.members.wechat import bind_openid
from app.messaging.models import InboundMessage
from app.texts.services import preload as preload_texts
from tests.bot.support import give_points
from tests.sms.support import inbound_params, post_signed, twilio_settings
from tests.wechat.support import WeChatServer, wechat_settings

PHONE = "+8613800138000"
OPENID = "oPath0000000000000000000001"


@pytest.fixture(params=[True, False], ids=["prepared", "plain"])
def prepared(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


@pytest.fixture
def app_config(prepared: bool) -> dict[str, Any]:
    return {**twilio_settings(), **wechat_settings(), "DB_PREPARED_STATEMENTS": prepared}


def _hot(sql: str) -> str | None:
    """Which of the answer's three statements ``sql`` is, if any."""
    flat = " ".join(sql.split())
    if flat.startswith("INSERT INTO inbound_message"):
        return "claim"
    if " UNION ALL " in flat and "points_lot" in flat:
        return "points"
    if flat.startswith("SELECT member.id, member.language"):
        return "profile"
    return None


def _paths(app: Flask, send: Callable[[], Any]) -> tuple[Any, list[str], list[str]]:
    """``send()``'s result, the hot statements SQLAlchemy ran and those on the cursor."""
    with app.app_context():
        preload_texts()
    engine_side: list[str] = []
    cursor_side: list[str] = []

    def record(_conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        if (hot := _hot(sql)) is not None:
            engine_side.append(hot)

    def ran(sql: str) -> None:
        if (hot := _hot(sql)) is not None:
            cursor_side.append(hot)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        with observed(ran):
            result = send()
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    return result, engine_side, cursor_side


def _check(prepared: bool, engine_side: list[str], cursor_side: list[str]) -> None:
    hot = ["profile", "points", "claim"]
    assert (cursor_side, engine_side) == ((hot, []) if prepared else ([], hot))


def test_a_points_sms_takes_the_path_the_setting_names(
    app: Flask, client: FlaskClient, make_member: Any, make_level: Any, prepared: bool
) -> None:
    member = make_member(PHONE, language="en")
    member.level = make_level("Gold", 3)
    give_points(member_cards(member)[0], 1080)
    db.session.flush()
    response, engine_side, cursor_side = _paths(
        app, lambda: post_signed(client, "/sms/twilio", inbound_params(PHONE, "POINTS", "SMp"))
    )
    assert "1,080" in response.get_data(as_text=True)
    assert "Gold" in response.get_data(as_text=True)
    _check(prepared, engine_side, cursor_side)
    row = db.session.scalars(select(InboundMessage).filter_by(provider_id="SMp")).one()
    assert (row.command, row.status, row.sender) == ("points", "replied", PHONE)


def test_a_points_wechat_text_takes_the_path_the_setting_names(
    app: Flask, client: FlaskClient, make_member: Any, prepared: bool
) -> None:
    member = make_member(PHONE, language="zh-Hans")
    bind_openid(OPENID, member, via="code")
    give_points(member_cards(member)[0], 1280)
    db.session.flush()
    safe = WeChatServer(client, "safe")
    sent, engine_side, cursor_side = _paths(app, lambda: safe.text(OPENID, "积分"))
    assert sent.content.startswith("您的积分：1,280")
    _check(prepared, engine_side, cursor_side)
