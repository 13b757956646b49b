"""What a counter needs beyond members and cards: staff sign-in and the store's day.

``POST /api/v1/staff/verify`` checks a staff member's own password (with the admin
panel's lockout) and answers a token; the station sends it as ``X-Laoyou-Staff`` on
every later request, so postings record ``staff:<username>`` (``app.auth.station``).
``GET /api/v1/stores/<code>/day`` is the end-of-day summary, per staff member.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import g
from marshmallow import Schema, fields, validate

from app.api.base import Blueprint
from app.api.ledger import LIMITED, CheckoutSchema, split_field
from app.api.schemas import MAXIMUM_SETTING, WholeNumber
from app.auth.services import MAX_PASSWORD_CHARS, find_staff
from app.auth.station import TOKEN_MAX_AGE_S, sign_in_at_station
from app.cards.services import resolve_card
from app.clock import local_today
from app.errors import Forbidden, InvalidRequest
from app.i18n import request_language
from app.ledger.day import DayFigures, day_bounds, store_day
from app.ledger.quotes import quote_recharge, quote_sale
from app.members.services import count_joined

blp = Blueprint(
    "station",
    __name__,
    url_prefix="/api/v1",
    description="Store stations: staff sign-in (the token recorded as the actor) and the "
    "store's end-of-day summary.",
)


class StaffVerifySchema(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=64))
    password = fields.String(required=True, validate=validate.Length(min=1, max=MAX_PASSWORD_CHARS))


class StaffSchema(Schema):
    username = fields.String(required=True)
    display_name = fields.String(required=True)
    role = fields.String(required=True, metadata={"description": "cashier, store_manager, admin…"})
    language = fields.String(required=True)


class StaffVerifyResultSchema(Schema):
    staff = fields.Nested(StaffSchema, required=True)
    token = fields.String(
        required=True,
        metadata={"description": "Send it as the X-Laoyou-Staff header on later requests."},
    )
    expires_in_s = fields.Integer(required=True, metadata={"description": "The token's life."})
    store = fields.String(required=True, metadata={"description": "The API key's store code."})


class DayQuerySchema(Schema):
    date = fields.Date(
        load_default=None,
        metadata={"description": "The local day (TIMEZONE), YYYY-MM-DD; left out: today."},
    )


class DayFiguresSchema(Schema):
    sales = fields.Integer(required=True)
    sales_fen = fields.Integer(required=True, metadata={"description": "Charged, after discounts."})
    discount_fen = fields.Integer(required=True)
    sales_by_pay_with_fen = fields.Dict(
        keys=fields.String(), values=fields.Integer(), required=True
    )
    recharges = fields.Integer(required=True)
    recharges_fen = fields.Integer(required=True)
    recharge_bonus_fen = fields.Integer(required=True)
    refunds = fields.Integer(required=True)
    refunds_fen = fields.Integer(required=True)
    returns = fields.Integer(required=True, metadata={"description": "Cards returned (退卡)."})
    returns_fen = fields.Integer(required=True)
    points_issued = fields.Integer(required=True)
    points_redeemed = fields.Integer(required=True)
    cash_expected_fen = fields.Integer(
        required=True,
        metadata={
            "description": "Cash sales plus recharges, less refunds of cash sales and "
            "paid value returned with cards."
        },
    )


class StaffDaySchema(DayFiguresSchema):
    actor = fields.String(
        required=True,
        metadata={"description": "staff:<username>, or apikey:<id> for a POS without staff."},
    )
    display_name = fields.String(required=True, allow_none=True)


class DaySchema(Schema):
    store = fields.String(required=True)
    date = fields.Date(required=True)
    new_members = fields.Integer(
        required=True, metadata={"description": "Members who joined with this home store."}
    )
    totals = fields.Nested(DayFiguresSchema, required=True)
    staff = fields.List(fields.Nested(StaffDaySchema), required=True)


def _amount(text: str, minimum: int) -> WholeNumber:
    return WholeNumber(
        required=True,
        validate=validate.Range(min=minimum),
        metadata={"description": text + LIMITED, MAXIMUM_SETTING: "MAX_TRANSACTION_FEN"},
    )


class SaleQuoteSchema(Schema):
    """The checkout's own fields, with the same documented rules (``multipleOf`` and all)."""

    card = CheckoutSchema._declared_fields["card"]
    amount_fen = CheckoutSchema._declared_fields["amount_fen"]
    items = CheckoutSchema._declared_fields["items"]
    points_offset = CheckoutSchema._declared_fields["points_offset"]
    stored_value_fen = split_field(
        "Split tender (stored value + cash): the part to pay from stored value, in fen; the "
        "answer's split gives it with the cash part. More than the charge leaves no cash: "
        "400 split_mismatch (details: charged_fen)."
    )


class SplitSchema(Schema):
    stored_value_fen = fields.Integer(
        required=True, metadata={"description": "From the card's stored value."}
    )
    cash_fen = fields.Integer(required=True, metadata={"description": "In cash: the rest."})


class QuotePromotionSchema(Schema):
    id = fields.Integer(required=True, metadata={"description": "The promotion's id."})
    name = fields.String(
        required=True, metadata={"description": "Its name in the request's Accept-Language."}
    )
    names = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        required=True,
        metadata={"description": "Its name per language: zh-Hans, zh-Hant, en."},
    )
    points = fields.Integer(required=True, metadata={"description": "Points it would add."})
    coupon_type = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "The coupon type it would give (the code is made at checkout)."},
    )


class SaleQuoteResultSchema(Schema):
    discount_fen = fields.Integer(required=True)
    charged_fen = fields.Integer(required=True, metadata={"description": "To pay."})
    points_offset_fen = fields.Integer(required=True)
    points_earned = fields.Integer(
        required=True, metadata={"description": "Paid by cash or stored value."}
    )
    applied = fields.List(
        fields.String(),
        required=True,
        metadata={
            "description": "The rules applied: level, card discount, member day, promotions…"
        },
    )
    promotions = fields.List(
        fields.Nested(QuotePromotionSchema),
        required=True,
        metadata={
            "description": "The promotions in force that a member's sale paid in cash or stored "
            "value would get (their points are in points_earned); none for an anonymous card "
            "or a sale that charges nothing. The checkout's own answer is what counts."
        },
    )
    split = fields.Nested(
        SplitSchema,
        required=True,
        allow_none=True,
        metadata={
            "description": "With stored_value_fen: the split tender, stored value and cash, "
            "as the checkout would take it; null without."
        },
    )


class RechargeQuoteSchema(Schema):
    card = fields.String(required=True, validate=validate.Length(min=1, max=128))
    amount_fen = _amount("Money to pay in, in fen.", 1)


class RechargeQuoteResultSchema(Schema):
    bonus_fen = fields.Integer(required=True)
    plan = fields.String(required=True, allow_none=True, metadata={"description": "The plan."})


@blp.route("/checkout/quote", methods=["POST"])
@blp.arguments(SaleQuoteSchema)
@blp.response(200, SaleQuoteResultSchema)
@blp.errors(404, 409, 415)
def checkout_quote(data: dict[str, Any]) -> dict[str, Any]:
    """What a checkout would charge and earn at the key's store now; nothing is posted.

    The counter shows it before the member confirms. 404 ``not_found`` (the card);
    409 ``card_not_active``, ``outside_validity``; 400 ``amount_too_large``,
    ``split_mismatch`` (``stored_value_fen`` leaves no cash to pay).
    """
    language = request_language()
    quote = quote_sale(
        resolve_card(data["card"]),
        g.store,
        data["amount_fen"],
        items=data["items"],
        points_offset=data["points_offset"],
        stored_value_fen=data["stored_value_fen"],
    )
    return {
        "discount_fen": quote.rules.discount_fen,
        "charged_fen": quote.rules.charged_fen,
        "points_offset_fen": quote.rules.points_offset_fen,
        "points_earned": quote.points_earned,
        "applied": list(quote.rules.applied),
        "promotions": [
            {**p, "name": p["names"].get(language) or next(iter(p["names"].values()), "")}
            for p in quote.promotions
        ],
        "split": quote.split,
    }


@blp.route("/recharge/quote", methods=["POST"])
@blp.arguments(RechargeQuoteSchema)
@blp.response(200, RechargeQuoteResultSchema)
@blp.errors(404, 409, 415)
def recharge_quote(data: dict[str, Any]) -> dict[str, Any]:
    """The bonus a recharge would get now (the best plan that applies); nothing is posted."""
    plan, bonus = quote_recharge(resolve_card(data["card"]), data["amount_fen"])
    return {"bonus_fen": bonus, "plan": plan}


@blp.route("/staff/verify", methods=["POST"])
@blp.arguments(StaffVerifySchema)
@blp.response(200, StaffVerifyResultSchema)
@blp.errors(403, 415, 423)
def verify_staff(data: dict[str, Any]) -> dict[str, Any]:
    """Sign a staff member in at the key's store station.

    401 ``sign_in_failed`` (wrong name or password, or a disabled account: one answer);
    423 ``account_locked`` after repeated failures (``details.locked_until``); 403
    ``forbidden``: the account may not work a counter (``cards.act``), or a cashier or
    store manager of another store.
    """
    staff, token = sign_in_at_station(data["username"], data["password"], g.api_key)
    return {
        "staff": {
            "username": staff.username,
            "display_name": staff.display_name,
            "role": staff.role,
            "language": staff.language,
        },
        "token": token,
        "expires_in_s": TOKEN_MAX_AGE_S,
        "store": g.store.code,
    }


@blp.route("/stores/<code>/day", methods=["GET"])
@blp.arguments(DayQuerySchema, location="query")
@blp.response(200, DaySchema)
@blp.errors(403)
def store_day_summary(args: dict[str, Any], code: str) -> dict[str, Any]:
    """The store's day: sales, recharges, refunds, returns, new members, points, cash expected.

    The same figures per staff member (whoever posted each transaction). Only the API
    key's own store: 403 ``forbidden`` for another.
    """
    if code != g.store.code:
        raise Forbidden(f"this API key belongs to store {g.store.code}", field="code")
    day: dt.date = args["date"] or local_today()
    if abs((day - local_today()).days) > 366 * 20:
        raise InvalidRequest("the date is out of range", field="date")
    totals, per_actor = store_day(g.store.id, day)
    return {
        "store": g.store.code,
        "date": day,
        "new_members": count_joined(g.store.id, *day_bounds(day)),
        "totals": totals.as_dict(),
        "staff": [_staff_row(actor, figures) for actor, figures in per_actor.items()],
    }


def _staff_row(actor: str, figures: DayFigures) -> dict[str, Any]:
    kind, _, name = actor.partition(":")
    staff = find_staff(name) if kind == "staff" else None
    return {
        "actor": actor,
        "display_name": staff.display_name if staff else None,
        **figures.as_dict(),
    }
