"""SMS providers behind one small interface, chosen by ``SMS_PROVIDER``.

A sender either returns a ``SendResult`` or raises ``TransientError`` (try again
later: 429, 5xx, timeouts, connection errors) or ``PermanentError`` (never retry:
Twilio's 4xx error codes such as 21211 invalid number, 21610 unsubscribed).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any, Protocol

import requests
from flask import Flask
from twilio.base import exceptions as twilio_exceptions
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from app.phone import mask_phone

log = logging.getLogger("laoyou.sms")

#: Twilio: "Attempt to send to unsubscribed recipient" — the number replied STOP at the carrier.
TWILIO_UNSUBSCRIBED = 21610
TWILIO_API = "https://api.twilio.com"
#: What the client raises for an error answer (the RFC 9457 kind exists in newer twilio 9.x).
TWILIO_ERRORS: tuple[type[Exception], ...] = tuple(
    error
    for error in (
        twilio_exceptions.TwilioRestException,
        getattr(twilio_exceptions, "TwilioServiceException", None),
    )
    if error is not None
)


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


class ConsoleSender:
    """The demo and development provider: the message goes to the log, marked sent."""

    sender_id = "console"
    rate_limited = False

    def send(self, to: str, body: str, *, outbox_id: int) -> SendResult:
        log.info("SMS to %s (outbox %s): %s", mask_phone(to), outbox_id, body)
        return SendResult(provider_id=None, status="sent")


class BaseUrlHttpClient(TwilioHttpClient):
    """Twilio's own HTTP client, with api.twilio.com swapped for another base URL.

    twilio 9 builds absolute URLs from ``Domain.base_url`` ("https://api.twilio.com")
    and hands them to ``http_client.request``; rewriting there is the one seam
    that keeps every other part of the real client (auth, form encoding, errors).
    """

    def __init__(self, base_url: str, timeout: float) -> None:
        # Twilio's client logs URLs with phone numbers at INFO; keep them out of our logs.
        quiet = logging.getLogger("laoyou.sms.twilio_http")
        quiet.setLevel(logging.WARNING)
        super().__init__(timeout=timeout, logger=quiet)
        self.base_url = base_url

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        if self.base_url and url.startswith(TWILIO_API):
            url = self.base_url + url[len(TWILIO_API) :]
        return super().request(method, url, *args, **kwargs)


class TwilioSender:
    """The real ``twilio.rest.Client``; ``TWILIO_API_BASE_URL`` points it at a fake."""

    rate_limited = True

    def __init__(self, config: dict[str, Any]) -> None:
        self.from_number = config["TWILIO_FROM_NUMBER"]
        self.service_sid = config["TWILIO_MESSAGING_SERVICE_SID"]
        self.sender_id = self.service_sid or self.from_number
        self.status_url = config["PUBLIC_BASE_URL"] + "/sms/twilio/status"
        http_client = BaseUrlHttpClient(
            config["TWILIO_API_BASE_URL"], float(config["SMS_SEND_TIMEOUT_SECONDS"])
        )
        self.client = Client(
            config["TWILIO_ACCOUNT_SID"], config["TWILIO_AUTH_TOKEN"], http_client=http_client
        )

    def send(self, to: str, body: str, *, outbox_id: int) -> SendResult:
        params: dict[str, Any] = {
            "to": to,
            "body": body,
            # The outbox id rides along so a callback can name a message whose
            # acceptance we never heard about (a timeout, a dispatcher killed).
            "status_callback": f"{self.status_url}?outbox_id={outbox_id}",
        }
        if self.service_sid:
            params["messaging_service_sid"] = self.service_sid
        else:
            params["from_"] = self.from_number
        try:
            message = self.client.messages.create(**params)
        except TWILIO_ERRORS as exc:
            status = int(getattr(exc, "status", 0) or 0)
            code = getattr(exc, "code", None)
            text = scrub_numbers(str(getattr(exc, "msg", None) or getattr(exc, "title", "") or ""))
            if status == 429 or status >= 500:
                raise TransientError(f"HTTP {status}: {text}"[:300]) from exc
            raise PermanentError(f"HTTP {status} code {code}: {text}"[:300], code) from exc
        except requests.Timeout as exc:
            raise TransientError("timeout waiting for the provider") from exc
        except requests.ConnectionError as exc:
            raise TransientError(f"connection error: {type(exc).__name__}") from exc
        return SendResult(provider_id=message.sid, status="sending")


def sender_for(app: Flask) -> Sender:
    """One sender per app (the Twilio client keeps its connection pool)."""
    sender = app.extensions.get("laoyou.sms_sender")
    if sender is None:
        provider = app.config["SMS_PROVIDER"]
        sender = TwilioSender(app.config) if provider == "twilio" else ConsoleSender()
        app.extensions["laoyou.sms_sender"] = sender
    return sender
