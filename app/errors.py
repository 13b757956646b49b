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


# --- ledger refusals: the request is well formed, the state of the card forbids it ---


class InsufficientFunds(LaoyouError):
    code = "insufficient_funds"
    status = 409


class CardNotActive(LaoyouError):
    code = "card_not_active"
    status = 409


class OutsideValidity(LaoyouError):
    code = "outside_validity"
    status = 409


class IdempotencyConflict(LaoyouError):
    """The key was used before for a different request."""

    code = "idempotency_conflict"
    status = 409


class IdempotencyInProgress(LaoyouError):
    """The first request with this key has not finished yet; retry shortly."""

    code = "idempotency_in_progress"
    status = 409


class RefundExceedsPurchase(LaoyouError):
    code = "refund_exceeds_purchase"
    status = 409


class NotRefundable(LaoyouError):
    """Only checkouts are refunded; a refund is never refunded again."""

    code = "not_refundable"
    status = 409


class NotRechargeable(LaoyouError):
    code = "not_rechargeable"
    status = 409


class AmountTooLarge(LaoyouError):
    """More than one transaction may move (``MAX_TRANSACTION_FEN``): most likely a typo."""

    code = "amount_too_large"
    status = 400


class SplitMismatch(LaoyouError):
    """A split tender whose parts do not add up to what the sale charges."""

    code = "split_mismatch"
    status = 400


class CardOverdrawn(LaoyouError):
    """A card returned (退卡) while it owes money: the debt is settled before the return."""

    code = "card_overdrawn"
    status = 409


class RefundOtherStore(LaoyouError):
    """``REFUND_SCOPE=store_of_sale``: a sale is refunded only by the store that made it."""

    code = "refund_other_store"
    status = 403


class WechatUnavailable(LaoyouError):
    """The WeChat API could not be reached or asked us to try later (or is not configured)."""

    code = "wechat_unavailable"
    status = 503


class WechatRefused(LaoyouError):
    """The WeChat API refused the call for good; ``details.errcode`` is WeChat's code."""

    code = "wechat_refused"
    status = 502


# --- staff accounts (the admin panel) ---


class SignInFailed(LaoyouError):
    """Wrong username or password, or a disabled account: the same answer for each."""

    code = "sign_in_failed"
    status = 401
    persist = True


class AccountLocked(LaoyouError):
    """Too many failed sign-ins; ``details.locked_until`` says until when."""

    code = "account_locked"
    status = 423
    persist = True


class SelfApproval(LaoyouError):
    """The staff member who asked for a change may not approve it too."""

    code = "self_approval"
    status = 403


class AlreadyDecided(LaoyouError):
    code = "already_decided"
    status = 409
