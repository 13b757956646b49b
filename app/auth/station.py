"""Staff at a store station: a sign-in checked here, and a signed token the station sends back.

The station (``laoyou station``) holds only the store's API key. A staff member signs
in on it with their own account; the central service checks the password (with the
lockout of ``authenticate_staff``) and answers a token signed with ``SECRET_KEY``. The
station sends the token in ``X-Laoyou-Staff`` with each request, so the journal
records the staff member (``actor = "staff:<username>"``) rather than the key. The
token names the API key it was issued to, so it is worthless with another store's key,
and it carries the account's ``session_version``: a password reset or a disabled
account ends it at once.
"""

from __future__ import annotations

from typing import Any

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from app.auth.models import STORE_ROLES, ApiKey, StaffUser
from app.auth.permissions import has_permission
from app.auth.services import authenticate_staff, staff_by_id
from app.errors import Forbidden, Unauthorized

#: What a station staff token may do at most: one long shift.
TOKEN_MAX_AGE_S = 14 * 3600
#: The permission that lets a staff member work a counter.
STATION_PERMISSION = "cards.act"
_SALT = "laoyou.station-staff"


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_SALT)


def _check_may_serve(staff: StaffUser, key: ApiKey) -> None:
    if not has_permission(staff, STATION_PERMISSION):
        raise Forbidden("this account may not work at a store station", field="username")
    if staff.role in STORE_ROLES and staff.store_id != key.store_id:
        raise Forbidden(
            f"this account belongs to another store than {key.store.code}", field="username"
        )


def sign_in_at_station(username: str, password: str, key: ApiKey) -> tuple[StaffUser, str]:
    """The staff member and their token, or ``SignInFailed`` / ``AccountLocked`` / ``Forbidden``.

    A store role (cashier, store manager) signs in only at their own store's station.
    """
    staff = authenticate_staff(username, password)
    _check_may_serve(staff, key)
    token = _serializer().dumps({"s": staff.id, "v": staff.session_version, "k": key.id})
    return staff, token


def staff_for_token(token: str, key: ApiKey) -> StaffUser:
    """The staff member a station token names, still allowed to serve at the key's store."""
    try:
        data: Any = _serializer().loads(token, max_age=TOKEN_MAX_AGE_S)
    except SignatureExpired:
        raise Unauthorized(
            "the staff sign-in expired; sign in again", field="X-Laoyou-Staff"
        ) from None
    except BadSignature:
        raise Unauthorized("the staff token is not valid", field="X-Laoyou-Staff") from None
    if not isinstance(data, dict) or data.get("k") != key.id:
        raise Unauthorized("the staff token belongs to another API key", field="X-Laoyou-Staff")
    staff = staff_by_id(int(data.get("s", 0)))
    if staff is None or not staff.active or staff.session_version != data.get("v"):
        raise Unauthorized("the staff sign-in ended; sign in again", field="X-Laoyou-Staff")
    _check_may_serve(staff, key)
    return staff
