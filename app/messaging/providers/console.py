"""The console provider: the demo's and development's, nothing leaves the machine."""

from __future__ import annotations

import logging

from app.messaging.providers.base import SendResult
from app.phone import mask_phone

log = logging.getLogger("laoyou.sms")


class ConsoleSender:
    """The demo and development provider: the message goes to the log, marked sent."""

    sender_id = "console"
    rate_limited = False

    def send(self, to: str, body: str, *, outbox_id: int) -> SendResult:
        log.info("SMS to %s (outbox %s): %s", mask_phone(to), outbox_id, body)
        return SendResult(provider_id=None, status="sent")
