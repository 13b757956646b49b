"""Domain errors. Services raise them; the API turns each into its JSON error.

``code`` is a contract: POS vendors branch on it, so codes are never renamed.
"""

from __future__ import annotations

from typing import Any


class LaoyouError(Exception):
    code = "error"
    status = 400
    #: When True the boundary commits what the service flushed before raising
    #: (a wrong-PIN count must survive the refusal). Such errors are raised
    #: before any other write of the unit of work.
    persist = False

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidRequest(LaoyouError):
    code = "invalid_request"
    status = 400


class NotFound(LaoyouError):
    code = "not_found"
    status = 404


class Unauthorized(LaoyouError):
    code = "unauthorized"
    status = 401


class Forbidden(LaoyouError):
    code = "forbidden"
    status = 403


class DuplicateMember(LaoyouError):
    code = "duplicate_member"
    status = 409


class IllegalTransition(LaoyouError):
    code = "illegal_transition"
    status = 409


class WrongPin(LaoyouError):
    code = "wrong_pin"
    status = 403
    persist = True


class PinLocked(LaoyouError):
    code = "pin_locked"
    status = 423
    persist = True


class PinRequired(LaoyouError):
    code = "pin_required"
    status = 403
