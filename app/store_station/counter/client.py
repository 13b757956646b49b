"""The station's only way to the central service: /api/v1 with the store's API key.

Short timeouts: a counter cannot wait on a dead network. A connection failure, a
timeout, an answer that is not JSON (a proxy's error page) or a 5xx ``internal_error`` is
``Offline`` (the station switches to its offline queue); any other error answer is
``Refused`` with the API's stable error ``code``, which the page shows as it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import requests
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

#: Seconds for connecting and for each read: a counter cannot wait longer.
DEFAULT_TIMEOUT_S = 3.0
STAFF_HEADER = "X-Laoyou-Staff"


class Offline(Exception):
    """The central service could not be reached or failed (5xx): nothing is known to be done.

    ``sent``: whether the request may have reached the service. False when it certainly did
    not (no connection was made, or the station was offline already) or the service failed
    and changed nothing (a 5xx ``internal_error``): a sale then queued may be sent on
    another way (at the list price the till charged) without meeting a first posting.
    """

    def __init__(self, message: str, *, sent: bool = True) -> None:
        super().__init__(message)
        self.sent = sent


def _never_sent(exc: requests.RequestException) -> bool:
    """No connection was made, so the request did not leave the station.

    Any other failure (a connection dropped after the request went, a read timeout) may
    have reached the service."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, NewConnectionError | ConnectTimeoutError)


@dataclass
class Refused(Exception):
    """The central service answered 4xx: the request was understood and refused."""

    status: int
    code: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.status} {self.code}: {self.message}"


class CentralClient:
    """A requests session against ``server`` (e.g. ``https://laoyou.example.com``)."""

    def __init__(
        self, server: str, key: str, *, station: str = "", timeout_s: float = DEFAULT_TIMEOUT_S
    ) -> None:
        self.server, self.key = server, key
        self.base = server.rstrip("/") + "/api/v1"
        self.station = station[:64]
        self.timeout_s = timeout_s
        self.session = requests.Session()
        self.session.headers.update(
            {"Authorization": f"Bearer {key}", "Accept": "application/json"}
        )
        self.store_code: str | None = None

    def close(self) -> None:
        self.session.close()

    def clone(self) -> CentralClient:
        """Another client to the same service (a thread of its own: sessions are not shared)."""
        return CentralClient(self.server, self.key, station=self.station, timeout_s=self.timeout_s)

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        staff_token: str | None = None,
        idempotency_key: str | None = None,
        language: str | None = None,
    ) -> Any:
        headers: dict[str, str] = {}
        if staff_token:
            headers[STAFF_HEADER] = staff_token
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        if language:
            headers["Accept-Language"] = language
        try:
            response = self.session.request(
                method,
                self.base + path,
                json=json,
                params=params,
                headers=headers,
                timeout=self.timeout_s,
            )
        except requests.RequestException as exc:
            raise Offline(
                f"the central service cannot be reached: {exc.__class__.__name__}",
                sent=not _never_sent(exc),
            ) from exc
        try:
            body = response.json()
        except ValueError:
            raise Offline(
                f"the central service answered no JSON ({response.status_code})"
            ) from None
        error = body.get("error", {}) if isinstance(body, dict) else {}
        if response.status_code >= 500 and error.get("code", "internal_error") == "internal_error":
            # Failed, changed nothing: try later. (A 502/503 with a code of its own, such as
            # ``wechat_unavailable``, is an answer: the service itself is there.)
            raise Offline(f"the central service failed ({response.status_code})", sent=False)
        if response.status_code >= 400:
            raise Refused(
                response.status_code,
                str(error.get("code", "error")),
                str(error.get("message", "")),
                dict(error.get("details") or {}),
            )
        return body

    # --- what the counter asks -------------------------------------------------------

    def store(self) -> str:
        """The key's store code (learned once from the stores list and the sign-in)."""
        return self.store_code or ""

    def verify_staff(self, username: str, password: str) -> dict[str, Any]:
        result: dict[str, Any] = self.request(
            "POST", "/staff/verify", json={"username": username, "password": password}
        )
        return result

    def member(self, ref: str, *, language: str | None = None) -> dict[str, Any]:
        result: dict[str, Any] = self.request("GET", f"/members/{_seg(ref)}", language=language)
        return result

    def card(self, ref: str) -> dict[str, Any]:
        result: dict[str, Any] = self.request("GET", f"/cards/{_seg(ref)}")
        return result["card"]  # type: ignore[no-any-return]

    def levels(self, *, language: str | None = None) -> list[dict[str, Any]]:
        result = self.request("GET", "/levels", language=language)
        return list(result["levels"])

    def checkout(
        self, body: dict[str, Any], *, key: str, staff_token: str | None
    ) -> dict[str, Any]:
        result: dict[str, Any] = self.request(
            "POST", "/checkout", json=body, idempotency_key=key, staff_token=staff_token
        )
        return result

    def post(
        self,
        path: str,
        body: dict[str, Any] | None,
        *,
        staff_token: str | None,
        key: str | None = None,
        language: str | None = None,
    ) -> dict[str, Any]:
        result: dict[str, Any] = self.request(
            "POST",
            path,
            json=body,
            idempotency_key=key,
            staff_token=staff_token,
            language=language,
        )
        return result

    def wechat_qr(self, ref: str) -> str:
        """A temporary scene QR's URL that binds the member's WeChat (``qr_url``)."""
        result = self.request("POST", f"/members/{_seg(ref)}/wechat-qr", json={})
        return str(result["url"])

    def day(self, store: str, date: str | None, *, staff_token: str | None) -> dict[str, Any]:
        params = {"date": date} if date else None
        result: dict[str, Any] = self.request(
            "GET", f"/stores/{_seg(store)}/day", params=params, staff_token=staff_token
        )
        return result

    def ping(self) -> bool:
        """True when the service answers at all (used by the background sync to come back)."""
        try:
            self.request("GET", "/stores")
        except Offline:
            return False
        except Refused:
            return True  # it answered: reachable
        return True


def _seg(text: str) -> str:
    """One URL path segment: a phone's ``+`` and spaces, a slash, all encoded."""
    return quote(text, safe="")
