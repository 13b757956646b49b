"""WeChat members: an openid talks to the engine through ``receive``, as the webhook does.

``wechat(openid).text("积分")`` is the reply text; binding codes are read back from the
SMS the outbox queued for the phone (``code_sent_to``).
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from app.bot.message import Message
from app.db import db
from app.messaging.inbound import InboundResult, receive
from app.messaging.models import OutboxMessage
from app.wechat.event import Event

PHONE = "+8613800138000"
OPENID = "oWx_member_0000000000000001"
OTHER_OPENID = "oWx_member_0000000000000002"

_ids = itertools.count(1)


@pytest.fixture
def app_config() -> dict[str, Any]:
    return {"BOT_RAISE_ERRORS": True, "BOT_RATE_LIMIT": "1000/minute"}


class Follower:
    """One openid; ``send`` goes through ``receive`` with a fresh MsgId, as the webhook does."""

    def __init__(self, openid: str) -> None:
        self.openid = openid

    def send(self, text: str, *, msg_id: str | None = None) -> InboundResult:
        message = Message(
            channel="wechat",
            sender=self.openid,
            text=text,
            provider_id=msg_id or f"MSG{next(_ids):012d}",
            received_at=dt.datetime.now(dt.UTC),
        )
        result = receive(message)
        db.session.flush()
        return result

    def text(self, text: str) -> str:
        return self.send(text).reply

    def event(self, kind: str, key: str = "", *, create_time: int | None = None) -> InboundResult:
        from app.wechat import events

        event = Event(
            openid=self.openid,
            event=kind,
            key=key,
            ticket="",
            create_time=create_time or 1_700_000_000 + next(_ids),
        )
        message = Message(
            channel="wechat",
            sender=self.openid,
            text=f"[event {kind} {key}]".strip(),
            provider_id=event.dedupe_id,
            received_at=dt.datetime.now(dt.UTC),
        )
        result = receive(message, answer=lambda _m: events.answer_event(event))
        db.session.flush()
        return result


@pytest.fixture
def wechat(app: Flask, make_store: Callable[..., Any]) -> Callable[[str], Follower]:
    make_store("SH01", "南京路店")
    return Follower


def sms_to(phone: str) -> list[OutboxMessage]:
    return list(
        db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.address == phone).order_by(OutboxMessage.id)
        )
    )


def code_sent_to(phone: str) -> str:
    """The six digits of the newest SMS to ``phone``."""
    rows = sms_to(phone)
    assert rows, f"no SMS to {phone}"
    found = re.search(r"\b(\d{6})\b", rows[-1].body)
    assert found, rows[-1].body
    return found.group(1)


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"
