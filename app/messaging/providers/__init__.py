"""SMS providers behind one small interface (``base.Sender``), chosen by ``SMS_PROVIDER``.

Each provider is one module; ``PROVIDERS`` maps the setting's value to a factory that
takes the app's config. WeChat's template messages will be the third.
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

__all__ = [
    "PROVIDERS",
    "TWILIO_UNSUBSCRIBED",
    "ConsoleSender",
    "PermanentError",
    "SendResult",
    "Sender",
    "TransientError",
    "TwilioSender",
    "scrub_numbers",
    "sender_for",
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
