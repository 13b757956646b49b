"""What every SMS provider shares: the interface, its result and its two errors.

A sender either returns a ``SendResult`` or raises ``TransientError`` (try again
later: 429, 5xx, timeouts, connection errors) or ``PermanentError`` (never retry:
Twilio's 4xx error codes such as 21211 invalid number, 21610 unsubscribed).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from app.phone import mask_phone


def scrub_numbers(text: str) -> str:
    """Mask phone numbers in a provider's error text before it reaches a log or a column.

    Twilio's messages quote the number ("The 'To' number +8613800138000 is not valid").
    """
    return _NUMBER.sub(lambda m: mask_phone(m.group(0)), text)


_NUMBER = re.compile(r"\+?\d{7,15}")


@dataclass(frozen=True)
class SendResult:
    #: The provider's message id (Twilio MessageSid); None for the console.
    provider_id: str | None
    #: Our status after the hand-over: ``sending`` (the provider has it) or ``sent``.
    status: str


class TransientError(Exception):
    """Worth another attempt after a back-off."""


class PermanentError(Exception):
    """The provider refused this message for good; ``code`` is the provider's error code."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class Sender(Protocol):
    #: The rate-limited identity: the from-number or messaging service.
    sender_id: str
    #: False for senders that reach no carrier (the console): no per-number limit applies.
    rate_limited: bool

    def send(self, to: str, body: str, *, outbox_id: int) -> SendResult: ...
