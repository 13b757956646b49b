"""Club activities at the counter: sign a member up, check a member in.

``POST /api/v1/activities/<code>/signups`` signs the member up (a confirmed place, or
the waiting list when full) and sends them their check-in code; ``POST
/api/v1/activities/<code>/checkins`` checks a member in by the code they show or by their
phone or card, once, with the activity's attendance points. Refusals write nothing.
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from app.api.base import Blueprint
from app.api.document_rules import document_rules
from app.campaigns import activities
from app.cards.services import resolve_member

blp = Blueprint(
    "activities",
    __name__,
    url_prefix="/api/v1/activities",
    description="Club activities (会员活动): sign-ups and check-ins at the counter.",
)

CODE = {
    "in": "path",
    "name": "code",
    "description": "The activity's code (letters and digits, as members text it after SIGNUP).",
}


class SignupRequestSchema(Schema):
    member = fields.String(
        required=True,
        validate=validate.Length(min=1, max=128),
        metadata={"description": "The member's phone, a card number or a card medium value."},
    )


class SignupSchema(Schema):
    activity = fields.String(required=True, metadata={"description": "The activity's code."})
    member_id = fields.Integer(required=True)
    status = fields.String(
        required=True, metadata={"description": "confirmed, or waiting (the list is full)."}
    )
    position = fields.Integer(
        required=True,
        allow_none=True,
        metadata={"description": "The place on the waiting list (1 is next); null if confirmed."},
    )
    checkin_code = fields.String(
        required=True, metadata={"description": "Six digits the member shows at check-in."}
    )


@document_rules(
    oneOf=[
        {"required": [name], "properties": {name: {"type": "string"}}}
        for name in ("member", "checkin_code")
    ]
)
class CheckinRequestSchema(Schema):
    """Exactly one of ``member`` or ``checkin_code``."""

    member = fields.String(
        validate=validate.Length(min=1, max=128),
        load_default=None,
        metadata={"description": "The member's phone, a card number or a card medium value."},
    )
    checkin_code = fields.String(
        validate=validate.Regexp(r"^[0-9]{6}$"),
        load_default=None,
        metadata={"description": "The six digits the member received on signing up."},
    )

    @validates_schema
    def _one(self, data: dict[str, Any], **_: Any) -> None:
        if (data.get("member") is None) == (data.get("checkin_code") is None):
            raise ValidationError("give exactly one of member or checkin_code")


class CheckinSchema(Schema):
    activity = fields.String(required=True)
    member_id = fields.Integer(required=True)
    checked_in_at = fields.DateTime(required=True)
    points = fields.Integer(
        required=True, metadata={"description": "Attendance points given by this check-in."}
    )
    already_checked_in = fields.Boolean(
        required=True, metadata={"description": "True: checked in before; nothing changed."}
    )


@blp.route("/<code>/signups", methods=["POST"], parameters=[CODE])
@blp.arguments(SignupRequestSchema)
@blp.response(201, SignupSchema)
@blp.errors(403, 404, 409, 415)
def sign_up(data: dict[str, Any], code: str) -> dict[str, Any]:
    """Sign a member up at the counter; a full activity puts them on the waiting list.

    403 ``not_eligible`` (level too low), 404 ``not_found`` (activity or member),
    409 ``already_signed_up`` or ``signups_closed`` (the activity has started).
    """
    activity = activities.get_activity(code)
    member = resolve_member(data["member"])
    signup = activities.sign_up_at_counter(member, activity.code)
    return {
        "activity": activity.code,
        "member_id": member.id,
        "status": signup.status,
        "position": activities.waiting_position(signup) if signup.status == "waiting" else None,
        "checkin_code": signup.checkin_code,
    }


@blp.route("/<code>/checkins", methods=["POST"], parameters=[CODE])
@blp.arguments(CheckinRequestSchema)
@blp.response(200, CheckinSchema)
@blp.errors(404, 409, 415)
def check_in(data: dict[str, Any], code: str) -> dict[str, Any]:
    """Check a member in, by their check-in code or their phone or card; a repeat changes
    nothing (``already_checked_in``).

    404 ``not_found`` / ``not_signed_up``; 409 ``checkin_refused`` with ``reason``
    ``waiting``, ``cancelled``, ``too_early`` (opens two hours before) or ``ended``.
    """
    activity = activities.get_activity(code)
    member = resolve_member(data["member"]) if data.get("member") is not None else None
    done = activities.check_in(activity.code, member=member, checkin_code=data.get("checkin_code"))
    assert done.signup.checked_in_at is not None
    return {
        "activity": activity.code,
        "member_id": done.signup.member_id,
        "checked_in_at": done.signup.checked_in_at,
        "points": done.points,
        "already_checked_in": done.already,
    }
