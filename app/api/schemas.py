"""Marshmallow schemas of the REST API: what requests may carry and what answers hold.

They are the OpenAPI document's source. Request schemas check shape and
enumerations; the services check meaning (a phone that parses, a lunar date
that existed, questionnaire answers). Response schemas list every field as
required and refuse unknown ones, so the document is exact and a test that
validates responses against it notices any drift.
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, pre_dump, validate

from app.api.document_rules import document_rules
from app.cards.models import CARD_STATES, CARD_TYPES, MEDIUM_KINDS, Card
from app.cards.services import PERIODS, member_cards
from app.db import db, utcnow
from app.i18n import request_language
from app.ledger.balances import card_balances, card_stored_value, member_balances
from app.ledger.rules.engine import credit_limit
from app.limits import MAX_ANSWERS, MAX_CREDIT_LIMIT_FEN
from app.members.models import CALENDARS, GENDERS, Level, Member
from app.members.services import LANGUAGES, birthday_text
from app.wechat.scenes import DEFAULT_EXPIRE_SECONDS, MAX_EXPIRE_SECONDS, MIN_EXPIRE_SECONDS

#: A year, a month 01-12 and a day 01-31 (whether that day exists is the service's check).
BIRTHDAY_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$"
#: Any text without a NUL character, which the boundary refuses in every text that enters
#: (``app.web.boundary``). ``app.api.base.Api`` documents it on every string without a pattern.
NO_NUL_PATTERN = r"^[^\x00]*$"
#: Text with at least one character that is not white space (by ``str.isspace``, which the
#: services' ``strip()`` uses; spelled out, as regex engines disagree on ``\\s``), and no NUL.
NOT_BLANK_PATTERN = (
    r"^[^\x00]*"
    "[^\x00\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
    r"[^\x00]*$"
)
#: A questionnaire answer: text, a number, yes / no, several choices, or null (remove it).
ANSWER_VALUE = {
    "nullable": True,
    "anyOf": [
        {"type": "string", "pattern": NO_NUL_PATTERN},
        {"type": "number"},
        {"type": "boolean"},
        {"type": "array", "items": {"type": "string", "pattern": NO_NUL_PATTERN}},
    ],
}
#: A member's first card is issued with no options, so not a period card (it needs dates).
FIRST_CARD_TYPES = tuple(t for t in CARD_TYPES if t != "period")
#: A new PIN: 4 to 8 ASCII digits (``app.cards.services.set_pin`` checks the same).
PIN_PATTERN = r"^[0-9]{4,8}$"


def _doc(text: str, **extra: Any) -> dict[str, Any]:
    return {"description": text, **extra}


# --- amounts ----------------------------------------------------------------------

#: Field metadata naming the setting whose value is the field's documented ``maximum``
#: (``app.api.base.Api`` writes it into the OpenAPI document when the app is built).
MAXIMUM_SETTING = "x_maximum_setting"


class WholeNumber(fields.Integer):
    """A JSON integer and nothing else: money, points and visits are never truncated or
    coerced, so ``10.5``, ``"100"``, ``100.0`` and ``true`` are refused (400 naming the field)."""

    default_error_messages = {"invalid": "Must be a whole number (a JSON integer)."}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(strict=True, **kwargs)


class StrictBoolean(fields.Boolean):
    """JSON ``true`` or ``false`` only: marshmallow would also read 0, 1, "yes", "off"…"""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


# --- errors -----------------------------------------------------------------------


class ErrorBodySchema(Schema):
    code = fields.String(
        required=True,
        metadata=_doc(
            "Stable machine-readable code: invalid_request, not_found, duplicate_member, "
            "illegal_transition, unauthorized, wrong_pin, pin_locked, pin_required, "
            "method_not_allowed, payload_too_large, unsupported_media_type, …"
        ),
    )
    message = fields.String(required=True, metadata=_doc("For people; may change."))
    details = fields.Dict(
        keys=fields.String(),
        metadata=_doc("Context such as the offending field, attempts_left or locked_until."),
    )


class ErrorSchema(Schema):
    error = fields.Nested(ErrorBodySchema, required=True)


# --- responses --------------------------------------------------------------------


class BalancesSchema(Schema):
    points = fields.Integer(required=True)
    stored_value_fen = fields.Integer(required=True)
    visits = fields.Integer(required=True)


class StoredValueSchema(Schema):
    paid_fen = fields.Integer(
        required=True, metadata=_doc("Money paid in (refunded on a return), negative if overdrawn.")
    )
    bonus_fen = fields.Integer(required=True, metadata=_doc("Recharge bonus; spent first."))


class MemberCardSchema(Schema):
    """A card as listed inside a member."""

    number = fields.String(required=True)
    type = fields.String(required=True, validate=validate.OneOf(CARD_TYPES))
    state = fields.String(required=True, validate=validate.OneOf(CARD_STATES))
    is_primary = fields.Boolean(
        required=True, metadata=_doc("The card the member's phone number stands for.")
    )
    replaced_by = fields.String(
        required=True, allow_none=True, metadata=_doc("Number of the card that replaced this one.")
    )

    @pre_dump
    def _from_card(self, card: Card, **_: Any) -> dict[str, Any]:
        return {
            "number": card.number,
            "type": card.type,
            "state": card.state,
            "is_primary": card.is_primary,
            "replaced_by": _replacement_number(card),
        }


class CardSchema(Schema):
    number = fields.String(required=True)
    type = fields.String(required=True, validate=validate.OneOf(CARD_TYPES))
    state = fields.String(required=True, validate=validate.OneOf(CARD_STATES))
    member = fields.String(
        required=True, allow_none=True, metadata=_doc("Holder's phone (E.164); null if anonymous.")
    )
    is_primary = fields.Boolean(required=True)
    valid_from = fields.Date(required=True, allow_none=True)
    valid_until = fields.Date(required=True, allow_none=True)
    has_pin = fields.Boolean(required=True)
    pin_locked_until = fields.DateTime(
        required=True, allow_none=True, metadata=_doc("Set while wrong PINs keep the card locked.")
    )
    media = fields.List(
        fields.String(validate=validate.OneOf(MEDIUM_KINDS)),
        required=True,
        metadata=_doc("Kinds of other media bound to the card (their values are not shown)."),
    )
    credit_limit_fen = fields.Integer(
        required=True,
        metadata=_doc(
            "The overdraft in force, in fen: the card's own, else the programme's rule for "
            "its type (which may change)."
        ),
    )
    rechargeable = fields.Boolean(required=True)
    issued_store = fields.String(required=True, allow_none=True)
    issued_at = fields.DateTime(required=True)
    replaced_by = fields.String(required=True, allow_none=True)
    balances = fields.Nested(BalancesSchema, required=True)
    stored_value = fields.Nested(
        StoredValueSchema,
        required=True,
        metadata=_doc("balances.stored_value_fen as its paid and bonus parts."),
    )

    @pre_dump
    def _from_card(self, card: Card, **_: Any) -> dict[str, Any]:
        locked = card.pin_locked_until
        paid_fen, bonus_fen = card_stored_value(card.id)
        return {
            "number": card.number,
            "type": card.type,
            "state": card.state,
            "member": card.member.phone if card.member is not None else None,
            "is_primary": card.is_primary,
            "valid_from": card.valid_from,
            "valid_until": card.valid_until,
            "has_pin": card.pin_hash is not None,
            "pin_locked_until": locked if locked is not None and locked > utcnow() else None,
            "media": sorted({m.kind for m in card.media}),
            "credit_limit_fen": credit_limit(card),
            "rechargeable": card.rechargeable,
            "issued_store": card.issued_store.code if card.issued_store is not None else None,
            "issued_at": card.issued_at,
            "replaced_by": _replacement_number(card),
            "balances": card_balances(card.id).as_dict(),
            "stored_value": {"paid_fen": paid_fen, "bonus_fen": bonus_fen},
        }


def _replacement_number(card: Card) -> str | None:
    if card.replaced_by_id is None:
        return None
    replacement = db.session.get(Card, card.replaced_by_id)
    return replacement.number if replacement is not None else None


class CardResultSchema(Schema):
    card = fields.Nested(CardSchema, required=True)


class ReplaceResultSchema(Schema):
    card = fields.Nested(CardSchema, required=True, metadata=_doc("The new card."))
    replaced_card = fields.Nested(
        CardSchema, required=True, metadata=_doc("The old card, now cancelled.")
    )


class MediumSchema(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(MEDIUM_KINDS))
    value = fields.String(
        required=True,
        validate=validate.Length(min=1, max=128),
        metadata=_doc(
            "Barcode text, magstripe track, chip UID or QR token; surrounding white space "
            "is dropped.",
            pattern=NOT_BLANK_PATTERN,
        ),
    )


class MediumResultSchema(Schema):
    card = fields.Nested(CardSchema, required=True)
    medium = fields.Nested(MediumSchema, required=True)


class PinVerifyResultSchema(Schema):
    valid = fields.Boolean(
        required=True,
        metadata=_doc("True only when the card has a PIN and this is it."),
    )
    pin_required = fields.Boolean(
        required=True,
        metadata=_doc(
            "Whether the card has a PIN. False: there was nothing to check (valid is false), "
            "so this is not a passed check."
        ),
    )


class LevelNamesSchema(Schema):
    """A level's name in each language; a language without its own name has the one name."""

    zh_hans = fields.String(required=True, data_key="zh-Hans")
    zh_hant = fields.String(required=True, data_key="zh-Hant")
    en = fields.String(required=True)


def level_names(level: Level) -> dict[str, str]:
    """``LevelNamesSchema``'s input for ``level``."""
    return {tag.replace("-", "_").lower(): name for tag, name in level.names().items()}


class MemberSchema(Schema):
    id = fields.Integer(required=True)
    phone = fields.String(required=True, metadata=_doc("E.164, e.g. +8613800138000."))
    name = fields.String(required=True, allow_none=True)
    gender = fields.String(required=True, validate=validate.OneOf(GENDERS))
    birthday = fields.String(
        required=True,
        allow_none=True,
        metadata=_doc(
            "YYYY-MM-DD as the member states it: solar, or lunar year-month-day "
            "when birthday_calendar is lunar.",
            pattern=BIRTHDAY_PATTERN,
        ),
    )
    birthday_calendar = fields.String(required=True, validate=validate.OneOf(CALENDARS))
    lunar_leap_month = fields.Boolean(required=True)
    language = fields.String(required=True, validate=validate.OneOf(LANGUAGES))
    home_store = fields.String(required=True, metadata=_doc("Store code."))
    level = fields.String(required=True, allow_none=True, metadata=_doc("Level name."))
    level_rank = fields.Integer(required=True, allow_none=True)
    level_name = fields.String(
        required=True,
        allow_none=True,
        metadata=_doc("Level name in the request's Accept-Language (zh-Hans, zh-Hant or en)."),
    )
    level_names = fields.Nested(LevelNamesSchema, required=True, allow_none=True)
    region = fields.String(required=True, allow_none=True)
    occupation = fields.String(required=True, allow_none=True)
    income_band = fields.String(required=True, allow_none=True)
    tags = fields.List(fields.String(), required=True)
    answers = fields.Dict(
        keys=fields.String(), required=True, metadata=_doc("Questionnaire answers by key.")
    )
    referrer = fields.String(
        required=True, allow_none=True, metadata=_doc("Referring member's phone.")
    )
    joined_at = fields.DateTime(required=True)
    sms_opt_out = fields.Boolean(required=True)
    wechat_opt_out = fields.Boolean(required=True)
    cards = fields.List(fields.Nested(MemberCardSchema), required=True)
    balances = fields.Nested(BalancesSchema, required=True)

    @pre_dump
    def _from_member(self, member: Member, **_: Any) -> dict[str, Any]:
        return {
            "id": member.id,
            "phone": member.phone,
            "name": member.name,
            "gender": member.gender,
            "birthday": birthday_text(member),
            "birthday_calendar": member.birthday_calendar,
            "lunar_leap_month": member.lunar_leap_month,
            "language": member.language,
            "home_store": member.home_store.code,
            "level": member.level.name if member.level is not None else None,
            "level_rank": member.level.rank if member.level is not None else None,
            "level_name": (
                member.level.name_in(request_language()) if member.level is not None else None
            ),
            "level_names": level_names(member.level) if member.level is not None else None,
            "region": member.region,
            "occupation": member.occupation,
            "income_band": member.income_band,
            "tags": list(member.tags or []),
            "answers": dict(member.answers or {}),
            "referrer": member.referrer.phone if member.referrer is not None else None,
            "joined_at": member.joined_at,
            "sms_opt_out": member.sms_opt_out,
            "wechat_opt_out": member.wechat_opt_out,
            "cards": member_cards(member),
            "balances": member_balances(member.id).as_dict(),
        }


# --- requests ---------------------------------------------------------------------


def _text(max_length: int, text: str) -> fields.String:
    return fields.String(
        allow_none=True, validate=validate.Length(max=max_length), metadata=_doc(text)
    )


def _at_most_answers(answers: dict[str, Any]) -> None:
    # Not validate.Length: the document would say maxLength, a string's keyword.
    if len(answers) > MAX_ANSWERS:
        raise ValidationError(f"at most {MAX_ANSWERS} answers")


class _MemberFieldsSchema(Schema):
    """Fields a member request may set; each left out keeps its value.

    The opt-out flags are read-only here: they follow the opt-out registry
    (``app.optout``), which keeps every change with its source.
    """

    name = _text(120, "Null clears it.")
    gender = fields.String(allow_none=True, validate=validate.OneOf(GENDERS))
    birthday = fields.String(
        allow_none=True,
        validate=validate.Regexp(BIRTHDAY_PATTERN, error="birthday must be YYYY-MM-DD"),
        metadata=_doc("YYYY-MM-DD; lunar month and day when birthday_calendar is lunar."),
    )
    birthday_calendar = fields.String(validate=validate.OneOf(CALENDARS))
    lunar_leap_month = StrictBoolean(
        metadata=_doc("Lunar birthdays only: the day falls in that year's leap month.")
    )
    language = fields.String(validate=validate.OneOf(LANGUAGES))
    region = _text(64, "Where the member lives.")
    occupation = _text(64, "Occupation.")
    income_band = _text(32, "Income band, as the chain defines them.")
    tags = fields.List(
        fields.String(validate=validate.Length(min=1, max=32)),
        allow_none=True,
        validate=validate.Length(max=50),
        metadata=_doc("Interest tags; replaces the list."),
    )
    answers = fields.Dict(
        keys=fields.String(validate=validate.Length(max=64)),
        allow_none=True,
        validate=_at_most_answers,
        metadata=_doc(
            "Questionnaire answers by question key; null for a key removes it.",
            maxProperties=MAX_ANSWERS,
            additionalProperties=ANSWER_VALUE,
        ),
    )
    referrer = fields.String(
        allow_none=True,
        validate=validate.Length(max=128),
        metadata=_doc("The referring member: phone, card number or card medium."),
    )


class MemberCreateSchema(_MemberFieldsSchema):
    phone = fields.String(
        required=True,
        validate=validate.Length(min=1, max=32),
        metadata=_doc("Any format phonenumbers reads: 13800138000, +86 138 0013 8000, 0086…"),
    )
    home_store = fields.String(required=True, validate=validate.Length(min=1, max=32))
    card_type = fields.String(
        validate=validate.OneOf(FIRST_CARD_TYPES),
        metadata=_doc(
            "Type of the member's first card; stored_value when left out. Not period: "
            "a period card needs its dates (POST /cards)."
        ),
    )


class MemberUpdateSchema(_MemberFieldsSchema):
    phone = fields.String(validate=validate.Length(min=1, max=32))
    home_store = fields.String(validate=validate.Length(min=1, max=32))


@document_rules(
    allOf=[
        {
            "anyOf": [
                {"properties": {"type": {"enum": ["stored_value"]}}},
                {"properties": {"credit_limit_fen": {"enum": [0]}}},
                {"not": {"required": ["credit_limit_fen"]}},
            ]
        },
        {
            "anyOf": [
                {"properties": {"type": {"not": {"enum": ["period"]}}}},
                {"required": ["period"], "properties": {"period": {"type": "string"}}},
                {"required": ["valid_until"], "properties": {"valid_until": {"type": "string"}}},
            ]
        },
    ]
)
class CardCreateSchema(Schema):
    """``credit_limit_fen`` above 0 only on a stored value card; a period card needs
    ``period`` or ``valid_until``."""

    type = fields.String(required=True, validate=validate.OneOf(CARD_TYPES))
    member = fields.String(
        allow_none=True,
        validate=validate.Length(min=1, max=128),
        metadata=_doc("The holder (phone, card number or medium); left out for an anonymous card."),
    )
    pin = fields.String(
        allow_none=True,
        validate=validate.Regexp(PIN_PATTERN, error="a PIN is 4 to 8 digits"),
        metadata=_doc("4 to 8 digits."),
    )
    period = fields.String(
        allow_none=True,
        validate=validate.OneOf(tuple(PERIODS)),
        metadata=_doc("Period cards: the length from valid_from when valid_until is left out."),
    )
    valid_from = fields.Date(allow_none=True)
    valid_until = fields.Date(allow_none=True)
    credit_limit_fen = WholeNumber(
        validate=validate.Range(min=0, max=MAX_CREDIT_LIMIT_FEN),
        metadata=_doc(
            "Overdraft allowed on this stored value card, in fen; left out, the card "
            "follows the programme's overdraft rule for stored value cards."
        ),
    )
    rechargeable = StrictBoolean(allow_none=True)
    media = fields.List(
        fields.Nested(MediumSchema),
        validate=validate.Length(max=10),
        metadata=_doc("Each medium once: a value belongs to one card.", uniqueItems=True),
    )


class ReasonSchema(Schema):
    reason = fields.String(allow_none=True, validate=validate.Length(max=200))


class PinSetSchema(Schema):
    pin = fields.String(
        required=True,
        allow_none=True,
        validate=validate.Regexp(PIN_PATTERN, error="a PIN is 4 to 8 digits"),
        metadata=_doc("4 to 8 digits; null removes the PIN."),
    )
    old_pin = fields.String(
        allow_none=True, metadata=_doc("Required when the card already has a PIN.")
    )


class PinVerifySchema(Schema):
    pin = fields.String(required=True, validate=validate.Length(min=1, max=32))


class MemberQuerySchema(Schema):
    q = fields.String(
        validate=validate.Length(max=64),
        metadata=_doc("A phone in any format (exact), or text in the name or phone."),
    )
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100000))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


class MemberPageSchema(Schema):
    members = fields.List(fields.Nested(MemberSchema), required=True)
    page = fields.Integer(required=True)
    per_page = fields.Integer(required=True)
    total = fields.Integer(required=True, metadata=_doc("Members matching, on all pages."))


# --- WeChat -----------------------------------------------------------------------


class WechatQrCreateSchema(Schema):
    permanent = StrictBoolean(
        load_default=False,
        metadata=_doc(
            "A permanent QR never expires (an account may have 100,000); default a "
            "temporary one. expire_seconds is ignored for a permanent QR."
        ),
    )
    expire_seconds = WholeNumber(
        load_default=DEFAULT_EXPIRE_SECONDS,
        validate=validate.Range(min=MIN_EXPIRE_SECONDS, max=MAX_EXPIRE_SECONDS),
        metadata=_doc("A temporary QR's life in seconds: 60 to 30 days; default a week."),
    )


class WechatQrSchema(Schema):
    ticket = fields.String(required=True, metadata=_doc("WeChat's ticket of the QR."))
    url = fields.String(
        required=True, metadata=_doc("WeChat's image of the QR (showqrcode?ticket=…).")
    )
    qr_url = fields.String(
        required=True, metadata=_doc("What the QR encodes, for a station that draws it.")
    )
    permanent = fields.Boolean(required=True)
    expires_at = fields.DateTime(
        required=True, allow_none=True, metadata=_doc("Null for a permanent QR.")
    )
