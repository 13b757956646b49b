"""Cards: issue, look up, change state, replace, PINs and other media."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import g

from app.api.auth import current_actor
from app.api.base import Blueprint
from app.api.schemas import (
    CardCreateSchema,
    CardResultSchema,
    MediumResultSchema,
    MediumSchema,
    PinSetSchema,
    PinVerifyResultSchema,
    PinVerifySchema,
    ReasonSchema,
    ReplaceResultSchema,
)
from app.cards.models import Card
from app.cards.services import (
    add_medium,
    change_state,
    get_card,
    issue_card,
    replace_card,
    resolve_card,
    resolve_member,
    set_pin,
    verify_pin,
)
from app.errors import InvalidRequest, NotFound
from app.members.models import Member

blp = Blueprint(
    "cards",
    __name__,
    url_prefix="/api/v1/cards",
    description="Cards: issue, look up, report lost, freeze, cancel, replace, PINs, media.",
)

#: State changes answered with the card; ``replace`` has its own view as it answers two cards.
STATE_ACTIONS = {
    "report-lost": "Report the card lost: it stops working until found.",
    "found": "A lost card is found: it works again.",
    "freeze": "Freeze the card: it stops working until unfrozen.",
    "unfreeze": "Unfreeze the card.",
    "cancel": "Cancel the card for good.",
}

#: The path parameter as documented.
NUMBER = {
    "in": "path",
    "name": "number",
    "description": "The card number, the card's current e-card code (20 digits, changing "
    "every minute; an expired one is 404 saying so), a card medium value, or the holder's "
    "phone (URL-encoded) for their primary card. A replaced card's number no longer resolves.",
}


@blp.route("", methods=["POST"])
@blp.arguments(CardCreateSchema)
@blp.response(201, CardResultSchema)
@blp.errors(415)
def issue(data: dict[str, Any]) -> dict[str, Card]:
    """Issue a card at the caller's store: named when ``member`` is given, else anonymous."""
    holder = _holder(data["member"]) if data.get("member") else None
    card = issue_card(
        data["type"],
        member=holder,
        store=g.store,
        pin=data.get("pin"),
        period=data.get("period"),
        valid_from=data.get("valid_from"),
        valid_until=data.get("valid_until"),
        # Left out: the card follows the programme's overdraft rule for its type.
        credit_limit_fen=data.get("credit_limit_fen"),
        rechargeable=data.get("rechargeable"),
        actor=current_actor(),
    )
    for medium in data.get("media") or []:
        add_medium(card, medium["kind"], medium["value"])
    return {"card": card}


@blp.route("/<number>", methods=["GET"], parameters=[NUMBER])
@blp.response(200, CardResultSchema)
@blp.errors(404)
def show(number: str) -> dict[str, Card]:
    """A working card by number, medium value or holder's phone (their primary card)."""
    return {"card": _working_card(number)}


def _state_change_view(action: str, summary: str) -> Callable[..., dict[str, Card]]:
    def view(data: dict[str, Any], number: str) -> dict[str, Card]:
        card = change_state(
            _working_card(number), action, actor=current_actor(), reason=data.get("reason")
        )
        return {"card": card}

    view.__name__ = view.__qualname__ = action.replace("-", "_")
    view.__doc__ = f"{summary}\n\n409 ``illegal_transition`` when the card's state forbids it."
    return view


# One concrete path per action, so the OpenAPI document lists each one.
for _action, _summary in STATE_ACTIONS.items():
    blp.route(f"/<number>/{_action}", methods=["POST"], parameters=[NUMBER], endpoint=_action)(
        blp.arguments(ReasonSchema, required=False)(
            blp.response(200, CardResultSchema)(
                blp.errors(404, 409, 415)(_state_change_view(_action, _summary))
            )
        )
    )


@blp.route("/<number>/replace", methods=["POST"], parameters=[NUMBER])
@blp.arguments(ReasonSchema, required=False)
@blp.response(200, ReplaceResultSchema)
@blp.errors(404, 409, 415)
def replace(data: dict[str, Any], number: str) -> dict[str, Card]:
    """A new number for the same holder and balances; the old number stops working."""
    old = _working_card(number)
    new = replace_card(old, actor=current_actor(), reason=data.get("reason"))
    return {"card": new, "replaced_card": old}


@blp.route("/<number>/pin", methods=["POST"], parameters=[NUMBER])
@blp.arguments(PinSetSchema)
@blp.response(200, CardResultSchema)
@blp.errors(403, 404, 415, 423)
def change_pin(data: dict[str, Any], number: str) -> dict[str, Card]:
    """Set, change (``old_pin`` needed when the card has one) or remove (``pin: null``) a PIN."""
    card = _working_card(number)
    set_pin(card, data["pin"], old_pin=data.get("old_pin"))
    return {"card": card}


@blp.route("/<number>/pin/verify", methods=["POST"], parameters=[NUMBER])
@blp.arguments(PinVerifySchema)
@blp.response(200, PinVerifyResultSchema)
@blp.errors(403, 404, 415, 423)
def check_pin(data: dict[str, Any], number: str) -> dict[str, bool]:
    """Check a PIN the customer typed.

    200 ``{"valid": true, "pin_required": true}`` when the card has a PIN and this is it;
    403 ``wrong_pin`` with ``attempts_left``; 423 ``pin_locked`` when locked. A card without
    a PIN answers 200 ``{"valid": false, "pin_required": false}``: nothing was checked, so a
    POS must not take it for a passed check.
    """
    card = _working_card(number)
    if card.pin_hash is None:
        return {"valid": False, "pin_required": False}
    verify_pin(card, data["pin"])
    return {"valid": True, "pin_required": True}


@blp.route("/<number>/media", methods=["POST"], parameters=[NUMBER])
@blp.arguments(MediumSchema)
@blp.response(201, MediumResultSchema)
@blp.errors(404, 415)
def attach_medium(data: dict[str, Any], number: str) -> dict[str, Any]:
    """Bind a barcode, magstripe track, chip UID or QR token to the card."""
    card = _working_card(number)
    medium = add_medium(card, data["kind"], data["value"])
    return {"card": card, "medium": {"kind": medium.kind, "value": medium.value}}


def _working_card(ref: str) -> Card:
    try:
        return resolve_card(ref)
    except NotFound as missing:
        if missing.details.get("expired"):
            raise  # an old e-card code: the station is told it expired
    try:
        retired = get_card(ref)
    except NotFound:
        retired = None
    if retired is not None and retired.replaced_by_id is not None:
        raise NotFound(f"card {ref} was replaced and no longer works", field="card")
    raise NotFound(f"no card matches {ref!r}", field="card")


def _holder(ref: str) -> Member:
    try:
        return resolve_member(ref)
    except NotFound:
        raise InvalidRequest(f"no member matches {ref!r}", field="member") from None
