"""The bot harness: ``bot(phone).send("JF")`` drives the engine as a phone would.

Replies are asserted in Chinese; tests/conftest.py compiles the catalogs first.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from app.bot.engine import handle_message
from app.bot.message import Message, Reply
from app.db import db


@pytest.fixture
def app_config() -> dict[str, Any]:
    # Handler errors surface in tests; the matrix sends many messages from one phone.
    return {"BOT_RAISE_ERRORS": True, "BOT_RATE_LIMIT": "1000/minute"}


class Phone:
    """One sender; ``send`` returns the engine's Reply after flushing its writes."""

    def __init__(self, sender: str, channel: str) -> None:
        self.sender = sender
        self.channel = channel
        self.sent = 0

    def send(self, text: str) -> Reply:
        self.sent += 1
        message = Message(
            channel=self.channel,
            sender=self.sender,
            text=text,
            provider_id=f"SM{self.sender[-6:]}{self.sent:04d}",
            received_at=dt.datetime.now(dt.UTC),
        )
        reply = handle_message(message)
        db.session.flush()
        return reply

    def text(self, text: str) -> str:
        return self.send(text).text


@pytest.fixture
def bot(app: Flask, make_store: Callable[..., Any]) -> Callable[..., Phone]:
    make_store("SH01", "南京路店")

    def phone(sender: str = "+8613800138000", channel: str = "sms") -> Phone:
        return Phone(sender, channel)

    return phone
