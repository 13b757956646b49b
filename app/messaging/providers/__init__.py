"""Providers behind small interfaces: SMS (``base.Sender``, chosen by ``SMS_PROVIDER``) and
WeChat (``wechat.WechatSender``, chosen by ``WECHAT_PROVIDER``).

Each provider is one module; ``PROVIDERS`` maps the SMS setting's value to a factory that
takes the app's config; ``wechat.wechat_sender_for`` does the same for WeChat.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask

from app.messaging.providers.base import (
    PermanentError,
    Sender,
    SendResult,
    TransientError,
    scrub_numbers,
)
from app.messaging.providers.console import ConsoleSender
from app.messaging.providers.twilio import TWILIO_UNSUBSCRIBED, TwilioSender
from app.messaging.providers.wechat import (
    WECHAT_UNSUBSCRIBED,
    WechatSender,
    wechat_sender_for,
)

__all__ = [
    "PROVIDERS",
    "TWILIO_UNSUBSCRIBED",
    "WECHAT_UNSUBSCRIBED",
    "ConsoleSender",
    "PermanentError",
    "SendResult",
    "Sender",
    "TransientError",
    "TwilioSender",
    "WechatSender",
    "scrub_numbers",
    "sender_for",
    "wechat_sender_for",
]

#: ``SMS_PROVIDER`` -> a factory over the app's config.
PROVIDERS: dict[str, Callable[[Any], Sender]] = {
    "console": lambda config: ConsoleSender(),
    "twilio": TwilioSender,
}


def sender_for(app: Flask) -> Sender:
    """One sender per app (the Twilio client keeps its connection pool)."""
    sender = app.extensions.get("laoyou.sms_sender")
    if sender is None:
        sender = PROVIDERS[app.config["SMS_PROVIDER"]](app.config)
        app.extensions["laoyou.sms_sender"] = sender
    return sender
