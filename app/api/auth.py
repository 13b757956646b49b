"""Bearer API keys on every /api/v1 blueprint; the key's store is the caller.

Authentication is a ``before_request`` on the app that applies to the
blueprints registered through ``app.api``, so a new API module is protected by
being registered and cannot forget it. The OpenAPI document stays public.
"""

from __future__ import annotations

import datetime as dt

from flask import Flask, Response, after_this_request, current_app, g, request
from werkzeug.exceptions import UnsupportedMediaType

from app.audit.services import set_actor
from app.auth.models import ApiKey
from app.auth.services import authenticate, record_key_use
from app.auth.station import staff_for_token
from app.db import utcnow
from app.errors import Unauthorized
from app.web.boundary import header_text

#: ``last_used_at`` is written at most this often per key: one UPDATE a minute, not one a request.
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)
#: A store station's signed-in staff member (``POST /api/v1/staff/verify`` issues the token).
STAFF_HEADER = "X-Laoyou-Staff"
#: For ``@blp.doc(parameters=[...])`` on the operations that record who acted.
STAFF_PARAMETER = {
    "in": "header",
    "name": STAFF_HEADER,
    "required": False,
    "schema": {"type": "string", "maxLength": 512},
    "description": "The token `POST /api/v1/staff/verify` answered for the staff member at "
    "the station: the journal and the audit log then record `staff:<username>` instead of "
    "the API key. A token that is not valid (expired, another key's, the account disabled "
    "or its password reset) is 401.",
}
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def install(app: Flask) -> None:
    @app.before_request
    def _api_key() -> None:
        if request.blueprint not in current_app.extensions["laoyou.api.blueprints"]:
            return
        require_api_key()
        _require_json_body()

    @app.after_request
    def _challenge(response: Response) -> Response:
        if response.status_code == 401 and request.path.startswith("/api/"):
            response.headers["WWW-Authenticate"] = 'Bearer realm="laoyou"'
        return response


def require_api_key() -> ApiKey:
    """Authenticate the request's bearer key; sets ``g.api_key`` and ``g.store``."""
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise Unauthorized("a valid API key is required: Authorization: Bearer <key>")
    key = authenticate(secret.strip())
    g.api_key = key
    g.store = key.store
    g.staff = None
    set_actor("api_key", key.prefix)
    token = header_text(STAFF_HEADER).strip()
    if token:
        if len(token) > 512:
            raise Unauthorized("the staff token is not valid", field=STAFF_HEADER)
        g.staff = staff_for_token(token, key)
        set_actor("staff", g.staff.username)
    now = utcnow()
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
        _touch_after_success(key.id, now)
    return key


def _touch_after_success(key_id: int, now: dt.datetime) -> None:
    # Written just before the request's commit, so the key's row is locked only briefly.
    @after_this_request
    def _touch(response: Response) -> Response:
        if response.status_code < 400:
            record_key_use(key_id, now)
        return response


def _require_json_body() -> None:
    if request.method in BODY_METHODS and _has_body() and not request.is_json:
        raise UnsupportedMediaType(
            "send the request body as JSON with Content-Type: application/json"
        )


def _has_body() -> bool:
    return bool(request.content_length) or "chunked" in request.headers.get("Transfer-Encoding", "")


def current_actor() -> str:
    """Who asked, for card events and journal entries: ``apikey:<id>``, or ``staff:<username>``
    when a station sent its signed-in staff member's token (``X-Laoyou-Staff``)."""
    staff = g.get("staff")
    if staff is not None:
        return f"staff:{staff.username}"
    return f"apikey:{g.api_key.id}"
