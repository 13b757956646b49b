"""``POST /api/v1/redemptions``: points for a gift or a coupon, or a coupon used once.

Exactly one of ``gift`` (a gift code, with ``quantity``), ``coupon_type`` (a
coupon type to take for points) or ``coupon`` (an issued coupon's code, to use
it) is given. Needs an ``Idempotency-Key``. Refusals (409 unless noted) write
nothing: ``insufficient_funds``, ``out_of_stock``, ``coupon_used``,
``coupon_expired``, ``card_not_active``, 404 ``not_found``.
"""

from __future__ import annotations

from typing import Any

from flask import g
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from app.api.auth import STAFF_PARAMETER, current_actor
from app.api.base import Blueprint
from app.api.document_rules import document_rules
from app.api.idempotency import HEADER_PARAMETER, idempotent, journal_key
from app.api.members import REF as MEMBER_REF
from app.api.schemas import BalancesSchema, WholeNumber
from app.cards.services import resolve_card, resolve_member
from app.errors import InvalidRequest
from app.ledger.redemption import services as redemption
from app.ledger.redemption.models import Coupon

blp = Blueprint(
    "redemptions",
    __name__,
    url_prefix="/api/v1",
    description="Redemption: points for gifts and coupons; coupons and vouchers used once.",
)


@document_rules(
    oneOf=[
        {"required": [name], "properties": {name: {"type": "string"}}}
        for name in ("gift", "coupon_type", "coupon")
    ]
)
class RedemptionSchema(Schema):
    """Exactly one of ``gift``, ``coupon_type`` or ``coupon`` is given (not null)."""

    card = fields.String(
        required=True,
        validate=validate.Length(min=1, max=128),
        metadata={"description": "A card number, card medium value or the holder's phone."},
    )
    gift = fields.String(validate=validate.Length(min=1, max=32), load_default=None)
    quantity = WholeNumber(
        load_default=1, validate=validate.Range(min=1, max=redemption.MAX_QUANTITY)
    )
    coupon_type = fields.String(
        validate=validate.Length(min=1, max=32),
        load_default=None,
        metadata={"description": "Take one coupon of this type, paying its points cost."},
    )
    coupon = fields.String(
        validate=validate.Length(min=1, max=32),
        load_default=None,
        metadata={"description": "Use this issued coupon or voucher (once)."},
    )
    pin = fields.String(validate=validate.Length(min=1, max=32), load_default=None)
    station = fields.String(validate=validate.Length(max=64), load_default=None)

    @validates_schema
    def _one_target(self, data: dict[str, Any], **_: Any) -> None:
        given = [k for k in ("gift", "coupon_type", "coupon") if data.get(k)]
        if len(given) != 1:
            raise ValidationError("give exactly one of gift, coupon_type or coupon")


class GiftOutSchema(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    stock = fields.Integer(required=True, allow_none=True, metadata={"description": "Left."})


class CouponOutSchema(Schema):
    code = fields.String(required=True)
    type = fields.String(required=True, metadata={"description": "Coupon type code."})
    kind = fields.String(required=True, metadata={"description": "coupon or voucher."})
    name = fields.String(required=True)
    state = fields.String(required=True)
    value_fen = fields.Integer(required=True)
    discount_bp = fields.Integer(required=True)
    min_spend_fen = fields.Integer(required=True)
    expires_on = fields.Date(required=True, metadata={"description": "Last valid day."})


class GiftCatalogueEntrySchema(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    points_cost = fields.Integer(required=True, metadata={"description": "Points for one."})
    stock = fields.Integer(
        required=True, allow_none=True, metadata={"description": "Units left; null: unlimited."}
    )


class GiftListSchema(Schema):
    gifts = fields.List(fields.Nested(GiftCatalogueEntrySchema), required=True)


class MemberCouponsQuerySchema(Schema):
    usable = fields.Boolean(
        load_default=True,
        metadata={
            "description": "true (the default): only coupons that can be used today; "
            "false: every coupon the member was given, used and expired ones too."
        },
    )


class CouponListSchema(Schema):
    coupons = fields.List(fields.Nested(CouponOutSchema), required=True)


class RedemptionResultSchema(Schema):
    redemption_id = fields.Integer(required=True)
    kind = fields.String(required=True)
    transaction_id = fields.Integer(required=True, allow_none=True)
    points_spent = fields.Integer(required=True)
    balances = fields.Nested(BalancesSchema, required=True)
    gift = fields.Nested(GiftOutSchema, allow_none=True, required=True)
    coupon = fields.Nested(CouponOutSchema, allow_none=True, required=True)


def coupon_json(coupon: Coupon) -> dict[str, Any]:
    kind = coupon.coupon_type
    return {
        "code": coupon.code,
        "type": kind.code,
        "kind": kind.kind,
        "name": kind.name,
        "state": coupon.state,
        "value_fen": kind.value_fen,
        "discount_bp": kind.discount_bp,
        "min_spend_fen": kind.min_spend_fen,
        "expires_on": coupon.expires_on,
    }


@blp.route("/redemptions", methods=["POST"])
@idempotent
@blp.doc(parameters=[HEADER_PARAMETER, STAFF_PARAMETER])
@blp.arguments(RedemptionSchema)
@blp.response(201, RedemptionResultSchema)
@blp.errors(400, 403, 404, 409, 415, 423)
def create_redemption(data: dict[str, Any]) -> dict[str, Any]:
    """Redeem points for a gift or a coupon, or use a coupon.

    409 ``insufficient_funds``, ``out_of_stock``, ``coupon_used``, ``coupon_expired``,
    ``card_not_active``, ``idempotency_conflict``; 404 ``not_found``;
    403 ``wrong_pin`` / ``pin_required``; 423 ``pin_locked``.
    """
    card = resolve_card(data["card"])
    common = {"store": g.store, "actor": current_actor()}
    if data["gift"]:
        result = redemption.redeem_gift(
            card,
            data["gift"],
            data["quantity"],
            key=journal_key(),
            pin=data["pin"],
            station=data["station"],
            **common,
        )
    elif data["coupon_type"]:
        if card.member is None:
            raise InvalidRequest("an anonymous card holds no points", field="card")
        outcome = redemption.issue_coupon(
            card.member,
            data["coupon_type"],
            card=card,
            key=journal_key(),
            pin=data["pin"],
            station=data["station"],
            for_points=True,
            **common,
        )
        assert isinstance(outcome, redemption.RedemptionResult)
        result = outcome
    else:
        result = redemption.redeem_coupon(card, data["coupon"], **common)
    return {
        "redemption_id": result.redemption_id,
        "kind": result.kind,
        "transaction_id": result.transaction_id,
        "points_spent": result.points_spent,
        "balances": result.balances.as_dict(),
        "gift": (
            {"code": result.gift.code, "name": result.gift.name, "stock": result.gift.stock}
            if result.gift is not None
            else None
        ),
        "coupon": coupon_json(result.coupon) if result.coupon is not None else None,
    }


@blp.route("/gifts", methods=["GET"])
@blp.response(200, GiftListSchema)
@blp.errors()
def gifts() -> dict[str, Any]:
    """The gift catalogue: what a member can take for points, with the stock left."""
    return {
        "gifts": [
            {"code": g.code, "name": g.name, "points_cost": g.points_cost, "stock": g.stock}
            for g in redemption.list_gifts()
        ]
    }


@blp.route("/members/<ref>/coupons", methods=["GET"], parameters=[MEMBER_REF])
@blp.arguments(MemberCouponsQuerySchema, location="query")
@blp.response(200, CouponListSchema)
@blp.errors(400, 404)
def member_coupons(args: dict[str, Any], ref: str) -> dict[str, Any]:
    """The member's coupons and vouchers, oldest first: what a checkout's ``coupons`` takes."""
    member = resolve_member(ref)
    found = redemption.member_coupons(member, usable_only=args["usable"])
    return {"coupons": [coupon_json(c) for c in found]}
