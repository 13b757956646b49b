"""The station's local JSON API bodies, checked before anything reaches the central service.

Bad input is a 400 ``invalid_request`` naming the field (``station.py``); amounts are
JSON integers of fen (``1.5``, ``"100"`` and ``true`` are refused), texts carry no NUL.
"""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate

#: What one sale may move at most, as the central default (MAX_TRANSACTION_FEN); the
#: central service checks its own setting too.
MAX_AMOUNT_FEN = 10_000_000
MAX_ITEMS = 100
PAY_WITH = ("stored_value", "cash", "visits", "points")
CARD_ACTIONS = ("report-lost", "found", "freeze", "unfreeze")
MEDIUM_KINDS = ("barcode", "magstripe", "ic_uid", "qr_token")
CARD_TYPES = ("points", "stored_value", "count", "period", "gift")


class WholeNumber(fields.Integer):
    """A JSON integer: not a float, not a string of digits, not a boolean."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValidationError("must be a whole number (a JSON integer)")
        return int(value)


def _text(max_len: int, *, required: bool = True, **kw: Any) -> fields.String:
    checks = [
        validate.Length(min=1, max=max_len),
        validate.Regexp(r"^[^\x00]*$", error="must not contain a NUL character"),
    ]
    if required:
        return fields.String(required=True, validate=checks, **kw)
    return fields.String(load_default=None, validate=checks, **kw)


class _Strict(Schema):
    """An unknown field is refused (a typo the caller should hear about)."""

    class Meta:
        unknown = RAISE


class SignInSchema(_Strict):
    username = _text(64)
    password = _text(200)


class LookupSchema(_Strict):
    ref = _text(128)


class ItemSchema(_Strict):
    sku = _text(64, required=False)
    name = _text(64, required=False)
    category = _text(64, required=False)
    amount_fen = WholeNumber(required=True, validate=validate.Range(min=0, max=MAX_AMOUNT_FEN))
    quantity = WholeNumber(load_default=1, validate=validate.Range(min=1, max=10_000))


class QuoteSchema(_Strict):
    ref = _text(128)
    amount_fen = WholeNumber(required=True, validate=validate.Range(min=0, max=MAX_AMOUNT_FEN))
    items = fields.List(
        fields.Nested(ItemSchema), load_default=None, validate=validate.Length(max=MAX_ITEMS)
    )
    points_offset = WholeNumber(load_default=0, validate=validate.Range(min=0, max=10**9))
    #: Split tender: the part the card's stored value pays (with pay_with cash for the rest).
    stored_value_fen = WholeNumber(
        load_default=None, validate=validate.Range(min=1, max=MAX_AMOUNT_FEN)
    )


class CheckoutSchema(QuoteSchema):
    pay_with = fields.String(required=True, validate=validate.OneOf(PAY_WITH))
    #: The cash the member handed over (pay_with cash): the receipt prints it and the change.
    cash_tendered_fen = WholeNumber(
        load_default=None, validate=validate.Range(min=1, max=MAX_AMOUNT_FEN)
    )
    pin = _text(32, required=False)
    #: The page's id of this sale (one per sale, kept across retries); made here when absent.
    sale_id = fields.String(load_default=None, validate=validate.Regexp(r"^[A-Za-z0-9_-]{8,64}$"))


class RechargeSchema(_Strict):
    ref = _text(128)
    amount_fen = WholeNumber(required=True, validate=validate.Range(min=1, max=MAX_AMOUNT_FEN))
    sale_id = fields.String(load_default=None, validate=validate.Regexp(r"^[A-Za-z0-9_-]{8,64}$"))


class RechargeQuoteSchema(_Strict):
    ref = _text(128)
    amount_fen = WholeNumber(required=True, validate=validate.Range(min=1, max=MAX_AMOUNT_FEN))


class CardActionSchema(_Strict):
    ref = _text(128)
    reason = _text(200, required=False)


class ReturnSchema(_Strict):
    ref = _text(128)
    reason = _text(200)


class RefundSchema(_Strict):
    transaction_id = WholeNumber(required=True, validate=validate.Range(min=1, max=2**62))
    amount_fen = WholeNumber(load_default=None, validate=validate.Range(min=1, max=MAX_AMOUNT_FEN))


class RedeemSchema(_Strict):
    ref = _text(128)
    gift = _text(32)
    quantity = WholeNumber(load_default=1, validate=validate.Range(min=1, max=100))
    pin = _text(32, required=False)


class IssueSchema(_Strict):
    member = _text(128, required=False)
    type = fields.String(required=True, validate=validate.OneOf(CARD_TYPES))
    medium_kind = fields.String(load_default=None, validate=validate.OneOf(MEDIUM_KINDS))
    medium_value = _text(128, required=False)


class DaySchema(_Strict):
    date = fields.Date(load_default=None)
