"""The Twilio provider: the real REST client, or a fake at ``TWILIO_API_BASE_URL``."""

from __future__ import annotations

import logging
from typing import Any

import requests
from twilio.base import exceptions as twilio_exceptions
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from app.messaging.providers.base import PermanentError, SendResult, TransientError, scrub_numbers

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
