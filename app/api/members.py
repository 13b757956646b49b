"""Members: join, look up by any reference, update."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, pre_dump

from app.api.auth import current_actor
from app.api.base import Blueprint
from app.api.schemas import (
    MemberCreateSchema,
    MemberPageSchema,
    MemberQuerySchema,
    MemberSchema,
    MemberUpdateSchema,
)
from app.campaigns.promotions import current_promotions, effect_parts
from app.cards.services import enroll, resolve_member
from app.i18n import request_language
from app.members.models import Member
from app.members.services import search_members, update_member

blp = Blueprint(
    "members",
    __name__,
    url_prefix="/api/v1/members",
    description="Members: join, look up by phone, card number or card medium, update.",
)

#: The path parameter as documented: a phone as people write it is URL-encoded by the caller.
REF = {
    "in": "path",
    "name": "ref",
    "description": "A phone in any format (URL-encoded: %2B86%20138%200013%208000), "
    "a card number, a card's current e-card code (20 digits from the member's e-card page, "
    "changing every minute; an expired one is 404 `not_found` saying it expired) or a card "
    "medium value.",
}


class MemberPromotionSchema(Schema):
    id = fields.Integer(required=True)
    name = fields.String(
        required=True, metadata={"description": "In the request's Accept-Language."}
    )
    effects = fields.List(
        fields.String(),
        required=True,
        metadata={"description": "What it gives, one phrase per effect (2× points, a coupon…)."},
    )
    ends_at = fields.DateTime(required=True)


class MemberLookupSchema(MemberSchema):
    """The member as one lookup shows them, with today's promotions for them."""

    promotions = fields.List(
        fields.Nested(MemberPromotionSchema),
        required=True,
        metadata={
            "description": "Promotions in force that the member's level and segment allow, "
            "soonest to end first (at most 5; store, minimum spend and category are checked "
            "at checkout — the checkout quote says which would apply to a sale)."
        },
    )

    @pre_dump
    def _from_member(self, member: Member, **kw: Any) -> dict[str, Any]:
        language = request_language()
        return {
            **super()._from_member(member, **kw),
            "promotions": [
                {
                    "id": p.id,
                    "name": p.name_in(language),
                    "effects": effect_parts(p),
                    "ends_at": p.ends_at,
                }
                for p in current_promotions(member)
            ],
        }


@blp.route("", methods=["POST"])
@blp.arguments(MemberCreateSchema)
@blp.response(201, MemberSchema)
@blp.errors(409, 415)
def join(data: dict[str, Any]) -> Member:
    """Make a member with a first card; the phone then works as that card's number."""
    card_type = data.pop("card_type", None) or "stored_value"
    return enroll(data, card_type=card_type, actor=current_actor())


@blp.route("", methods=["GET"])
@blp.arguments(MemberQuerySchema, location="query")
@blp.response(200, MemberPageSchema)
@blp.errors()
def search(args: dict[str, Any]) -> dict[str, Any]:
    """Members page by page, newest first; ``q`` narrows by phone or name."""
    members, total = search_members(args.get("q", ""), page=args["page"], per_page=args["per_page"])
    return {"members": members, "page": args["page"], "per_page": args["per_page"], "total": total}


@blp.route("/<ref>", methods=["GET"], parameters=[REF])
@blp.response(200, MemberLookupSchema)
@blp.errors(404)
def show(ref: str) -> Member:
    """The member, their cards, level and balances, and the promotions in force for them."""
    return resolve_member(ref)


@blp.route("/<ref>", methods=["PATCH"], parameters=[REF])
@blp.arguments(MemberUpdateSchema)
@blp.response(200, MemberSchema)
@blp.errors(404, 409, 415)
def patch(data: dict[str, Any], ref: str) -> Member:
    """Change the fields given; the ones left out keep their values."""
    return update_member(resolve_member(ref), data, resolve=resolve_member)
