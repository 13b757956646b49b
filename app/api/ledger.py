"""The ledger's REST endpoints: checkout, recharge, refund, a card's return, a statement.

Every posting endpoint needs an ``Idempotency-Key`` header (see
``app.api.idempotency``); the same key and body again returns the first
answer. Refusals are 409 with a stable code and write nothing.
"""

from __future__ import annotations

from typing import Any

from flask import g
from marshmallow import Schema, fields, validate

from app.api.auth import STAFF_PARAMETER, current_actor
from app.api.base import Blueprint
from app.api.document_rules import document_rules
from app.api.idempotency import HEADER_PARAMETER, idempotent, journal_key
from app.api.schemas import MAXIMUM_SETTING, BalancesSchema, WholeNumber
from app.cards.services import resolve_card, resolve_member
from app.errors import Forbidden
from app.ledger import operations
from app.ledger.adjustments import MAX_REASON_CHARS, REASON_PATTERN, return_card
from app.ledger.redemption import services as redemption
from app.ledger.statement import member_statement
from app.limits import MAX_AMOUNT_FEN, MAX_COUNT, MAX_ID, MAX_ITEMS, MAX_POINTS
from app.stores.models import Store

blp = Blueprint(
    "ledger",
    __name__,
    url_prefix="/api/v1",
    description="Checkout, recharge, refund and statements. Postings need an Idempotency-Key.",
)
IDEMPOTENT = {"parameters": [HEADER_PARAMETER, STAFF_PARAMETER]}


def _doc(text: str, **extra: Any) -> dict[str, Any]:
    return {"description": text, **extra}


#: What a checkout's or recharge's amount_fen may be at most, as its description says it.
LIMITED = (
    " At most the MAX_TRANSACTION_FEN setting (the `maximum` here; default 10000000 fen, "
    "¥100,000); more is refused with 400 `amount_too_large`."
)


def _limited_amount(text: str, *, minimum: int) -> WholeNumber:
    return WholeNumber(
        required=True,
        validate=validate.Range(min=minimum),
        metadata=_doc(text + LIMITED, **{MAXIMUM_SETTING: "MAX_TRANSACTION_FEN"}),
    )


class ItemSchema(Schema):
    sku = fields.String(validate=validate.Length(max=64))
    category = fields.String(validate=validate.Length(max=64), allow_none=True)
    amount_fen = WholeNumber(
        required=True,
        validate=validate.Range(min=0, max=MAX_AMOUNT_FEN),
        metadata=_doc("The line's total (quantity already applied), in fen."),
    )
    quantity = WholeNumber(load_default=1, validate=validate.Range(min=1, max=MAX_COUNT))


#: A split tender's fields, as the checkout and its quote take them.
SPLIT_TEXT = (
    "Split tender (stored value + cash): the part of the charge paid from the card's stored "
    "value, in fen; the rest is paid in cash, so send pay_with cash. The rest must be at "
    "least 1 fen: a card that pays it all pays with pay_with stored_value. Spent as a "
    "stored-value payment (bonus money pro rata, the card's PIN asked as for one, 409 "
    "insufficient_funds when the card is short, nothing written). More than the charge "
    "after discounts, coupons and points offset: 400 split_mismatch (details: charged_fen)."
)


def split_field(text: str = SPLIT_TEXT) -> WholeNumber:
    return WholeNumber(
        load_default=None,
        validate=validate.Range(min=1),
        metadata=_doc(text + LIMITED, **{MAXIMUM_SETTING: "MAX_TRANSACTION_FEN"}),
    )


@document_rules(
    allOf=[
        {
            "anyOf": [
                {"properties": {"amount_fen": {"minimum": 1}}},
                {"properties": {"pay_with": {"enum": ["visits"]}}},
            ]
        },
        {
            "anyOf": [
                {"not": {"required": ["stored_value_fen"]}},
                {"properties": {"pay_with": {"enum": ["cash"]}}},
            ]
        },
        {
            "anyOf": [
                {"not": {"required": ["cash_fen"]}},
                {"required": ["stored_value_fen"]},
            ]
        },
        {
            # list_price only on a plain cash sale: no card value, points or coupons in it.
            "anyOf": [
                {
                    "not": {
                        "properties": {"list_price": {"enum": [True]}},
                        "required": ["list_price"],
                    }
                },
                {
                    "properties": {
                        "pay_with": {"enum": ["cash"]},
                        "points_offset": {"maximum": 0},
                        "coupons": {"maxItems": 0},
                        "stored_value_fen": {"nullable": True, "enum": [None]},
                    }
                },
            ]
        },
    ]
)
class CheckoutSchema(Schema):
    """``amount_fen`` 0 only with ``pay_with`` visits; ``stored_value_fen`` only with
    ``pay_with`` cash; ``cash_fen`` only with ``stored_value_fen``; ``list_price`` only on a
    plain cash sale."""

    card = fields.String(
        required=True,
        validate=validate.Length(min=1, max=128),
        metadata=_doc("A card number, card medium value or the holder's phone."),
    )
    store = fields.String(
        required=True,
        validate=validate.Length(min=1, max=32),
        metadata=_doc("Store code; must be the API key's store."),
    )
    amount_fen = _limited_amount(
        "List price, in fen. 0 only with pay_with visits (a count-card visit): "
        "any other checkout of 0 is refused (400 invalid_request).",
        minimum=0,
    )
    pay_with = fields.String(required=True, validate=validate.OneOf(operations.PAY_WITH))
    points_offset = WholeNumber(
        load_default=0,
        validate=validate.Range(min=0, max=MAX_POINTS),
        metadata=_doc(
            "Points to use as cash, in whole yuan: a multiple of the rules' "
            "offset_points_per_yuan (100 as shipped; that many points = 1 yuan).",
            multipleOf=100,
        ),
    )
    items = fields.List(
        fields.Nested(ItemSchema),
        load_default=None,
        validate=validate.Length(max=MAX_ITEMS),
        metadata=_doc(f"The sale's lines, at most {MAX_ITEMS}."),
    )
    pin = fields.String(validate=validate.Length(min=1, max=32), load_default=None)
    station = fields.String(validate=validate.Length(max=64), load_default=None)
    external_ref = fields.String(
        validate=validate.Length(max=128),
        load_default=None,
        metadata=_doc("Your receipt or order number."),
    )
    coupons = fields.List(
        fields.String(validate=validate.Length(min=1, max=32)),
        load_default=None,
        validate=validate.Length(max=redemption.MAX_CHECKOUT_COUPONS),
        metadata=_doc(
            "Codes of the member's coupons and vouchers to apply and use with this sale, in "
            "one transaction: percentage coupons first, then vouchers, after the level "
            "discount and before the points offset; each coupon's min_spend_fen is compared "
            "with the bill after the level discount. A refused coupon refuses the sale. "
            "The refund that returns the whole sale gives its coupons back."
        ),
    )
    list_price = fields.Boolean(
        load_default=False,
        metadata=_doc(
            "true: a sale the till already charged in cash at the list price, rung up "
            "without asking the rules (a store station offline, sent when the line is "
            "back): posted as charged, with no level or card discount; points are earned on "
            "what was paid. Only with pay_with cash, and not with stored_value_fen, "
            "points_offset or coupons (400 invalid_request)."
        ),
    )
    stored_value_fen = split_field()
    cash_fen = split_field(
        "Split tender: the cash part you showed the member, in fen (optional). When sent, "
        "stored_value_fen + cash_fen must equal the charge after discounts, coupons and "
        "points offset, else 400 split_mismatch and nothing is written (a rule that changed "
        "since your quote is caught here, not at the till)."
    )


class CheckoutCouponSchema(Schema):
    code = fields.String(required=True)
    type = fields.String(required=True, metadata=_doc("Coupon type code."))
    kind = fields.String(required=True, metadata=_doc("coupon or voucher."))
    name = fields.String(required=True)
    discount_fen = fields.Integer(required=True, metadata=_doc("What this coupon took off."))


class CheckoutPromotionSchema(Schema):
    id = fields.Integer(required=True, metadata=_doc("The promotion's id."))
    names = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        required=True,
        metadata=_doc("Its name per language: zh-Hans, zh-Hant, en."),
    )
    points = fields.Integer(required=True, metadata=_doc("Points it added (in points_earned)."))
    coupon_type = fields.String(
        required=True, allow_none=True, metadata=_doc("The coupon type it gave, if any.")
    )
    coupon = fields.String(
        required=True, allow_none=True, metadata=_doc("The code of the coupon it gave, if any.")
    )


class CheckoutResultSchema(Schema):
    transaction_id = fields.Integer(required=True)
    discount_fen = fields.Integer(required=True)
    charged_fen = fields.Integer(
        required=True, metadata=_doc("Paid after discounts and points offset.")
    )
    points_earned = fields.Integer(required=True)
    balances = fields.Nested(BalancesSchema, required=True, metadata=_doc("After the checkout."))
    coupons = fields.List(
        fields.Nested(CheckoutCouponSchema),
        required=True,
        metadata=_doc("The coupons used, in the order given, with each one's discount."),
    )
    promotions = fields.List(
        fields.Nested(CheckoutPromotionSchema),
        required=True,
        metadata=_doc(
            "The promotions in force that applied to this sale (a member's sale paid in cash "
            "or stored value), each with what it gave."
        ),
    )
    stored_value_fen = fields.Integer(
        required=True,
        metadata=_doc(
            "The part of charged_fen paid from stored value: all of it with pay_with "
            "stored_value, the split's part with stored_value_fen, else 0."
        ),
    )
    cash_fen = fields.Integer(
        required=True,
        metadata=_doc("The part of charged_fen paid in cash (pay_with cash), else 0."),
    )


class RechargeSchema(Schema):
    amount_fen = _limited_amount("Money paid in, in fen.", minimum=1)
    store = fields.String(required=True, validate=validate.Length(min=1, max=32))
    station = fields.String(validate=validate.Length(max=64), load_default=None)
    external_ref = fields.String(validate=validate.Length(max=128), load_default=None)


class RechargeResultSchema(Schema):
    transaction_id = fields.Integer(required=True)
    bonus_fen = fields.Integer(required=True)
    balances = fields.Nested(BalancesSchema, required=True)


class RefundSchema(Schema):
    amount_fen = WholeNumber(
        validate=validate.Range(min=1, max=MAX_AMOUNT_FEN),
        load_default=None,
        metadata=_doc("Money to refund; left out: all that is left of the purchase."),
    )
    station = fields.String(validate=validate.Length(max=64), load_default=None)
    external_ref = fields.String(validate=validate.Length(max=128), load_default=None)


class RefundResultSchema(Schema):
    transaction_id = fields.Integer(required=True, metadata=_doc("The refund's own id."))
    refunded_fen = fields.Integer(required=True, metadata=_doc("Money this refund gave back."))
    points_taken_back = fields.Integer(
        required=True, metadata=_doc("Points the purchase earned, taken back from the card.")
    )
    points_returned = fields.Integer(
        required=True, metadata=_doc("Points the purchase spent, given back to the card.")
    )
    balances = fields.Nested(BalancesSchema, required=True)
    coupons_returned = fields.List(
        fields.String(),
        required=True,
        metadata=_doc(
            "Codes of the sale's coupons given back: only by the refund that returns the "
            "whole sale; a partial refund keeps them used."
        ),
    )
    stored_value_back_fen = fields.Integer(
        required=True,
        metadata=_doc("Of refunded_fen, the money given back onto the card's stored value."),
    )
    cash_back_fen = fields.Integer(
        required=True,
        metadata=_doc(
            "Of refunded_fen, the money to hand back in cash: all of it for a cash sale; for "
            "a split sale, what is not given back to the card (each part in proportion)."
        ),
    )


class ReturnSchema(Schema):
    reason = fields.String(
        required=True,
        validate=[
            validate.Length(min=1, max=MAX_REASON_CHARS),
            validate.Regexp(REASON_PATTERN, error="a reason is one line of text"),
        ],
        metadata=_doc(
            "Why the member returns the card: one line of text (no control character), "
            "not only white space.",
            pattern=REASON_PATTERN,
        ),
    )
    station = fields.String(validate=validate.Length(max=64), load_default=None)
    external_ref = fields.String(validate=validate.Length(max=128), load_default=None)


class ReturnResultSchema(Schema):
    transaction_id = fields.Integer(required=True, metadata=_doc("The return's own id."))
    card = fields.String(required=True, metadata=_doc("The returned card's number."))
    state = fields.String(required=True, metadata=_doc("The card's state now: cancelled."))
    refunded_fen = fields.Integer(
        required=True, metadata=_doc("The paid stored value to give back to the member, in fen.")
    )
    bonus_forfeited_fen = fields.Integer(
        required=True, metadata=_doc("Recharge bonus value left on the card, forfeited.")
    )
    points_moved = fields.Integer(
        required=True, metadata=_doc("Points moved to the member's other card.")
    )
    points_moved_to = fields.String(
        required=True,
        allow_none=True,
        metadata=_doc("The card number the points went to; null when none moved."),
    )
    points_forfeited = fields.Integer(
        required=True, metadata=_doc("Points forfeited: the member holds no other card.")
    )
    visits_forfeited = fields.Integer(required=True)


class StatementQuerySchema(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100000))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


class ChangesSchema(Schema):
    points = fields.Integer(required=True)
    stored_value_fen = fields.Integer(required=True)
    visits = fields.Integer(required=True)


class StatementEntrySchema(Schema):
    id = fields.Integer(required=True)
    kind = fields.String(required=True)
    reason = fields.String(required=True, allow_none=True)
    created_at = fields.DateTime(required=True)
    store = fields.String(required=True, allow_none=True, metadata=_doc("Store code."))
    card = fields.String(required=True, allow_none=True, metadata=_doc("Card number."))
    amount_fen = fields.Integer(required=True)
    discount_fen = fields.Integer(required=True)
    charged_fen = fields.Integer(required=True)
    changes = fields.Nested(ChangesSchema, required=True, metadata=_doc("Per asset, signed."))
    points_after = fields.Integer(
        required=True, allow_none=True, metadata=_doc("Points balance after, when points moved.")
    )
    external_ref = fields.String(required=True, allow_none=True)
    reverses = fields.Integer(required=True, allow_none=True)
    refunded_by = fields.List(fields.Integer(), required=True)


class StatementSchema(Schema):
    transactions = fields.List(fields.Nested(StatementEntrySchema), required=True)
    page = fields.Integer(required=True)
    per_page = fields.Integer(required=True)
    total = fields.Integer(required=True)


def _own_store(code: str) -> Store:
    """Postings are made at the API key's own store."""
    if code != g.store.code:
        raise Forbidden(f"this API key belongs to store {g.store.code}", field="store")
    return g.store


@blp.route("/checkout", methods=["POST"])
@idempotent
@blp.doc(**IDEMPOTENT)
@blp.arguments(CheckoutSchema)
@blp.response(201, CheckoutResultSchema)
@blp.errors(400, 403, 404, 409, 415, 423)
def checkout(data: dict[str, Any]) -> dict[str, Any]:
    """A purchase: discounts, coupons, payment (stored value, cash, visits, points), points earned.

    ``promotions`` lists the promotions in force that applied (extra or bonus points, which
    ``points_earned`` includes, and coupons given).

    409 ``insufficient_funds``, ``card_not_active``, ``outside_validity``,
    ``idempotency_conflict``, ``coupon_used``, ``coupon_expired``, ``coupon_min_spend``;
    404 ``not_found`` (the card, or a coupon not the member's: ``details.field`` says
    which); 403 ``wrong_pin`` / ``pin_required``; 423 ``pin_locked``;
    400 ``amount_too_large`` (over ``MAX_TRANSACTION_FEN``), ``invalid_request`` (an amount
    that is not a JSON integer, or 0 other than a count-card visit; ``stored_value_fen``
    without pay_with cash), ``split_mismatch`` (a split tender's parts do not add up to
    the charge).

    Split tender (stored value + cash): ``pay_with`` cash with ``stored_value_fen``; one
    transaction, whose answer gives both parts (``stored_value_fen``, ``cash_fen``).

    ``list_price``: a cash sale the till already charged at the list price (a store station
    that was offline): posted as charged, with no level or card discount; points are earned
    on what was paid.
    """
    store = _own_store(data["store"])
    result = operations.checkout_card(
        data["card"],
        store,
        data["amount_fen"],
        data["pay_with"],
        points_offset=data["points_offset"],
        items=data["items"],
        pin=data["pin"],
        key=journal_key(),
        actor=current_actor(),
        station=data["station"],
        external_ref=data["external_ref"],
        coupons=data["coupons"],
        stored_value_fen=data["stored_value_fen"],
        cash_fen=data["cash_fen"],
        list_price=data["list_price"],
    )
    return {
        "transaction_id": result.transaction_id,
        "discount_fen": result.discount_fen,
        "charged_fen": result.charged_fen,
        "points_earned": result.points_earned,
        "balances": result.balances.as_dict(),
        "coupons": list(result.coupons),
        "promotions": list(result.promotions),
        "stored_value_fen": result.stored_value_fen,
        "cash_fen": result.cash_fen,
    }


@blp.route("/cards/<number>/recharge", methods=["POST"])
@idempotent
@blp.doc(**IDEMPOTENT)
@blp.arguments(RechargeSchema)
@blp.response(201, RechargeResultSchema)
@blp.errors(400, 403, 404, 409, 415)
def recharge(data: dict[str, Any], number: str) -> dict[str, Any]:
    """Pay money onto a card; the rules' bonus plan adds bonus money, kept apart.

    409 ``not_rechargeable`` (gift cards issued so), ``card_not_active``, ``outside_validity``;
    400 ``amount_too_large`` (over ``MAX_TRANSACTION_FEN``).
    """
    store = _own_store(data["store"])
    result = operations.recharge(
        resolve_card(number),
        store,
        data["amount_fen"],
        key=journal_key(),
        actor=current_actor(),
        station=data["station"],
        external_ref=data["external_ref"],
    )
    return {
        "transaction_id": result.transaction_id,
        "bonus_fen": result.bonus_fen,
        "balances": result.balances.as_dict(),
    }


# A transaction id past the column's range is no transaction: 404 from the route itself.
@blp.route(f"/transactions/<int(max={MAX_ID}):transaction_id>/refund", methods=["POST"])
@idempotent
@blp.doc(**IDEMPOTENT)
@blp.arguments(RefundSchema, required=False)
@blp.response(201, RefundResultSchema)
@blp.errors(400, 403, 404, 409, 415)
def refund(data: dict[str, Any], transaction_id: int) -> dict[str, Any]:
    """Refund a checkout, whole or in part: money back, earned points taken back.

    Each part goes back where it came from: ``stored_value_back_fen`` onto the card,
    ``cash_back_fen`` in cash (a split sale's parts in proportion to the money refunded).

    The answer says what was refunded (``refunded_fen``) and the points moved back. The
    refund that returns the whole sale gives its coupons back (``coupons_returned``).
    409 ``refund_exceeds_purchase`` (details: ``requested_fen``, null for "all that is
    left"; ``refunded_fen`` before; ``refundable_fen``), ``not_refundable`` (a refund, a
    recharge), ``insufficient_funds`` (the points the purchase earned were already spent).
    403 ``refund_other_store``: the REFUND_SCOPE setting is ``store_of_sale`` (the default)
    and the API key's store did not make the sale; with ``chain`` any store may refund it.
    """
    data = data or {}
    result = operations.refund(
        transaction_id,
        data.get("amount_fen"),
        key=journal_key(),
        actor=current_actor(),
        store=g.store,
        station=data.get("station"),
        external_ref=data.get("external_ref"),
    )
    return {
        "transaction_id": result.transaction_id,
        "refunded_fen": result.refunded_fen,
        "points_taken_back": result.points_taken_back,
        "points_returned": result.points_returned,
        "balances": result.balances.as_dict(),
        "coupons_returned": list(result.coupons_returned),
        "stored_value_back_fen": result.stored_value_back_fen,
        "cash_back_fen": result.cash_back_fen,
    }


@blp.route("/cards/<number>/return", methods=["POST"])
@idempotent
@blp.doc(**IDEMPOTENT)
@blp.arguments(ReturnSchema)
@blp.response(201, ReturnResultSchema)
@blp.errors(400, 404, 409, 415)
def return_a_card(data: dict[str, Any], number: str) -> dict[str, Any]:
    """Return a card (退卡): refund the stored value the member paid, and cancel the card.

    The answer says what to pay back (``refunded_fen``: the paid stored value; the
    recharge bonus given on top is forfeited, ``bonus_forfeited_fen``) and where the
    points went: to the member's other working card (their primary card first,
    ``points_moved_to``), or forfeited when they hold no other card. Remaining visits are
    forfeited. 404 ``not_found`` (no such card, or one replaced); 409 ``card_not_active``
    (already cancelled), ``card_overdrawn``
    (the card owes money: settle it first), ``illegal_transition``,
    ``idempotency_conflict``; 400 ``invalid_request`` (a missing or multi-line reason).
    """
    card = resolve_card(number)
    result = return_card(
        card,
        reason=data["reason"],
        actor=current_actor(),
        key=journal_key(),
        store=g.store,
        station=data["station"],
        external_ref=data["external_ref"],
    )
    return {
        "transaction_id": result.transaction_id,
        "card": card.number,
        "state": card.state,
        "refunded_fen": result.refunded_fen,
        "bonus_forfeited_fen": result.bonus_forfeited_fen,
        "points_moved": result.points_moved,
        "points_moved_to": result.points_moved_to,
        "points_forfeited": result.points_forfeited,
        "visits_forfeited": result.visits_forfeited,
    }


@blp.route("/members/<ref>/transactions", methods=["GET"])
@blp.arguments(StatementQuerySchema, location="query")
@blp.response(200, StatementSchema)
@blp.errors(400, 404)
def statement(args: dict[str, Any], ref: str) -> dict[str, Any]:
    """The member's transactions, newest first, page by page."""
    member = resolve_member(ref)
    return member_statement(member.id, page=args["page"], per_page=args["per_page"])
