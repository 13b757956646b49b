"""Members: join, look up by any reference, update."""

from __future__ import annotations

from typing import Any

from app.api.auth import current_actor
from app.api.base import Blueprint
from app.api.schemas import (
    MemberCreateSchema,
    MemberPageSchema,
    MemberQuerySchema,
    MemberSchema,
    MemberUpdateSchema,
)
from app.cards.services import enroll, resolve_member
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
@blp.response(200, MemberSchema)
@blp.errors(404)
def show(ref: str) -> Member:
    """The member, their cards, level and balances."""
    return resolve_member(ref)


@blp.route("/<ref>", methods=["PATCH"], parameters=[REF])
@blp.arguments(MemberUpdateSchema)
@blp.response(200, MemberSchema)
@blp.errors(404, 409, 415)
def patch(data: dict[str, Any], ref: str) -> Member:
    """Change the fields given; the ones left out keep their values."""
    return update_member(resolve_member(ref), data, resolve=resolve_member)
