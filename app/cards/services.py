"""Cards: enrol a member with their first card, issue, look up by any medium (and a
member through their cards), change state, replace, PINs."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.orm import contains_eager

from app.cards import ecard
from app.cards.lookup import card_by_number
from app.cards.models import CARD_TYPES, MEDIUM_KINDS, Card, CardEvent, CardMedium
from app.cards.numbers import random_card_number
from app.cards.states import next_state
from app.clock import local_today
from app.db import db, utcnow
from app.errors import (
    CardNotActive,
    InvalidRequest,
    NotFound,
    PinLocked,
    PinRequired,
    WrongPin,
)
from app.members.models import Member
from app.members.services import create_member, find_member_by_phone
from app.phone import normalise_phone
from app.signals import card_state_changed, member_joined
from app.stores.models import Store

#: Period cards run for one of these, counted in months from valid_from.
PERIODS = {"month": 1, "quarter": 3, "year": 12}


def enroll(
    data: dict[str, Any], *, card_type: str = "stored_value", actor: str | None = None
) -> Member:
    """Make a member with a primary card; the phone then works as that card's number.

    Registration is a cards service because a card points at its holder: members make
    the member, cards add the card, and ``member_joined`` (the signup gift, the referral)
    goes out once both exist. A referrer may be named by phone, card number or medium.
    """
    member = create_member(data, resolve=resolve_member)
    card = issue_card(card_type, member=member, store=member.home_store, actor=actor)
    member_joined.send(member, card=card)
    return member


def issue_card(
    card_type: str,
    *,
    member: Member | None = None,
    store: Store | None = None,
    pin: str | None = None,
    period: str | None = None,
    valid_from: dt.date | None = None,
    valid_until: dt.date | None = None,
    credit_limit_fen: int | None = None,
    rechargeable: bool | None = None,
    actor: str | None = None,
    number: str | None = None,
) -> Card:
    """Issue one card; ``number`` keeps a number the card already had in another system
    (a member import), else a new one is generated."""
    if card_type not in CARD_TYPES:
        raise InvalidRequest(f"card type must be one of {', '.join(CARD_TYPES)}", field="type")
    # None: the card follows the programme's overdraft rule for its type.
    if credit_limit_fen is not None and credit_limit_fen < 0:
        raise InvalidRequest("credit_limit_fen cannot be negative", field="credit_limit_fen")
    if credit_limit_fen and card_type != "stored_value":
        raise InvalidRequest("only stored value cards allow overdraft", field="credit_limit_fen")
    if card_type == "period":
        # The shop's day: a card sold at 00:30 in Shanghai starts that day, not the day before.
        valid_from = valid_from or local_today()
        if valid_until is None:
            if period not in PERIODS:
                raise InvalidRequest(
                    "a period card needs period (month, quarter, year) or valid_until",
                    field="period",
                )
            try:
                valid_until = add_months(valid_from, PERIODS[period]) - dt.timedelta(days=1)
            except OverflowError:
                raise InvalidRequest(
                    f"a {period} card from {valid_from.isoformat()} would end after the year "
                    f"{dt.MAXYEAR}; choose an earlier valid_from",
                    field="valid_from",
                ) from None
    if valid_from and valid_until and valid_until < valid_from:
        raise InvalidRequest("valid_until is before valid_from", field="valid_until")
    card = Card(
        number=_unused_number() if number is None else _free_number(number),
        type=card_type,
        state="active",
        member=member,
        issued_store=store,
        valid_from=valid_from,
        valid_until=valid_until,
        credit_limit_fen=credit_limit_fen,
        rechargeable=(card_type != "gift") if rechargeable is None else rechargeable,
        is_primary=member is not None and not _has_primary(member),
    )
    if pin is not None:
        card.pin_hash = hash_pin(pin)
    db.session.add(card)
    db.session.flush()
    db.session.add(CardEvent(card_id=card.id, action="issue", to_state="active", actor=actor))
    db.session.flush()
    return card


def add_months(day: dt.date, months: int) -> dt.date:
    """Same day N months on, clamped to the month's end (Jan 31 + 1 month = Feb 28/29).

    Raises ``OverflowError`` when that is outside the calendar (past the year 9999).
    """
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    if not dt.MINYEAR <= year <= dt.MAXYEAR:
        raise OverflowError(f"{months} months from {day.isoformat()} is outside the calendar")
    for d in (day.day, 30, 29, 28):
        try:
            return dt.date(year, month, d)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def _has_primary(member: Member) -> bool:
    if member.id is None:
        return False
    return bool(
        db.session.scalar(select(Card.id).where(Card.member_id == member.id, Card.is_primary))
    )


#: A number kept from another system: digits only (so it reads like ours everywhere).
MIN_KEPT_NUMBER_DIGITS, MAX_KEPT_NUMBER_DIGITS = 4, 19


def check_card_number(number: str) -> str:
    """A kept card number as stored, or ``InvalidRequest``."""
    number = (number or "").strip()
    if not (
        number.isascii()
        and number.isdigit()
        and MIN_KEPT_NUMBER_DIGITS <= len(number) <= MAX_KEPT_NUMBER_DIGITS
    ):
        raise InvalidRequest(
            f"a card number is {MIN_KEPT_NUMBER_DIGITS} to {MAX_KEPT_NUMBER_DIGITS} digits",
            field="card_number",
        )
    return number


def _free_number(number: str) -> str:
    number = check_card_number(number)
    if db.session.scalar(select(Card.id).where(Card.number == number)):
        raise InvalidRequest(f"card number {number} is already in use", field="card_number")
    return number


def _unused_number() -> str:
    prefix = current_app.config["CARD_NUMBER_PREFIX"]
    length = current_app.config["CARD_NUMBER_LENGTH"]
    for _ in range(20):
        number = random_card_number(prefix, length)
        if not db.session.scalar(select(Card.id).where(Card.number == number)):
            return number
    raise RuntimeError("card number space exhausted; lengthen CARD_NUMBER_LENGTH")


def find_card(ref: str) -> Card | None:
    """A working card from its number, its current e-card code, any medium, or its holder's
    phone (primary card).

    A replaced card's number no longer resolves: the new card took its place.
    """
    return _find_card(ref)[0]


def _find_card(ref: str) -> tuple[Card | None, bool]:
    """``find_card``, and whether ``ref`` was an e-card code that has expired."""
    ref = (ref or "").strip()
    if ecard.looks_like_code(ref):
        found = ecard.lookup_code(ref)
        if found.card is not None or found.expired:
            return found.card, found.expired
        # Not a code of ours: a 20-digit barcode on a card medium still resolves.
    return _find_card_by_ref(ref), False


def _find_card_by_ref(ref: str) -> Card | None:
    if not ref or len(ref) > 128:
        return None
    if ref.isdigit():
        # The holder and level come in the same statement: every caller reads card.member.
        card = card_by_number(ref)
        if card is not None:
            return None if card.replaced_by_id is not None else card
    medium = db.session.scalar(select(CardMedium).where(CardMedium.value == ref).limit(1))
    if medium is not None:
        card = medium.card
        return None if card.replaced_by_id is not None else card
    phone = normalise_phone(ref)
    if phone is not None:
        return db.session.scalar(
            select(Card)
            .join(Member, Card.member_id == Member.id)
            .options(contains_eager(Card.member))
            .where(Member.phone == phone, Card.is_primary)
        )
    return None


#: What the station is told when it scans a screenshot of an e-card, or an old one.
ECARD_EXPIRED = (
    "this e-card code has expired (it changes every minute): ask the member to show the "
    "e-card again"
)


def resolve_card(ref: str) -> Card:
    card, expired = _find_card(ref)
    if expired:
        raise NotFound(ECARD_EXPIRED, field="card", expired=True)
    if card is None:
        raise NotFound(f"no card matches {ref!r}", field="card")
    return card


def resolve_member(ref: str) -> Member:
    """A member from a phone number in any format, a card number, a card's current e-card
    code or a card medium id."""
    card, expired = _find_card(ref)
    if expired:
        raise NotFound(ECARD_EXPIRED, expired=True)
    if card is not None and card.member is not None:
        return card.member
    member = find_member_by_phone(ref)
    if member is None:
        raise NotFound(f"no member or card matches {ref!r}")
    return member


def member_cards(member: Member) -> list[Card]:
    """A member's cards, the primary card first."""
    return list(
        db.session.scalars(
            select(Card)
            .where(Card.member_id == member.id)
            .order_by(Card.is_primary.desc(), Card.id)
        )
    )


def get_card(number: str) -> Card:
    card = db.session.scalar(select(Card).where(Card.number == number.strip()))
    if card is None:
        raise NotFound(f"no card with number {number!r}", field="card")
    return card


def change_state(
    card: Card, action: str, *, actor: str | None = None, reason: str | None = None
) -> Card:
    """Apply one action from the transition table; ``replace`` goes through ``replace_card``."""
    if action == "replace":
        return replace_card(card, actor=actor, reason=reason)
    before = card.state
    card.state = next_state(action, before)
    if card.state == "cancelled" and card.is_primary:
        _pass_primary_on(card)
    db.session.add(
        CardEvent(
            card_id=card.id,
            action=action,
            from_state=before,
            to_state=card.state,
            actor=actor,
            reason=reason,
        )
    )
    db.session.flush()
    card_state_changed.send(
        card, action=action, from_state=before, to_state=card.state, new_card=None, reason=reason
    )
    return card


def _pass_primary_on(card: Card) -> None:
    """A cancelled (or returned) primary card hands the role on, so the member's phone still
    finds a working card: to their first other active card, else any other not cancelled."""
    others = db.session.scalars(
        select(Card)
        .where(Card.member_id == card.member_id, Card.id != card.id, Card.state != "cancelled")
        .order_by(Card.id)
    ).all()
    successor = next((c for c in others if c.state == "active"), others[0] if others else None)
    if successor is None:
        return
    card.is_primary = False
    db.session.flush()  # the old flag goes first, as in replace_card
    successor.is_primary = True


def replace_card(card: Card, *, actor: str | None = None, reason: str | None = None) -> Card:
    """Issue a new number for the same holder; the old card is cancelled and stops working.

    Media (chip UIDs, barcodes) stay with the old card: the new card is new plastic.
    Receivers of ``card_state_changed`` move balances within this transaction.
    """
    before = card.state
    card.state = next_state("replace", before)
    new = issue_card(
        card.type,
        member=card.member,
        store=card.issued_store,
        valid_from=card.valid_from,
        valid_until=card.valid_until,
        credit_limit_fen=card.credit_limit_fen,
        rechargeable=card.rechargeable,
        actor=actor,
    )
    new.pin_hash = card.pin_hash
    if card.is_primary:
        card.is_primary = False
        db.session.flush()
        new.is_primary = True
    card.replaced_by_id = new.id
    db.session.add(
        CardEvent(
            card_id=card.id,
            action="replace",
            from_state=before,
            to_state=card.state,
            actor=actor,
            reason=reason or f"replaced by {new.number}",
        )
    )
    db.session.flush()
    card_state_changed.send(
        card,
        action="replace",
        from_state=before,
        to_state=card.state,
        new_card=new,
        reason=reason,
    )
    return new


def bind_card(
    card: Card, member: Member, *, actor: str | None = None, reason: str | None = None
) -> Card:
    """Attach an anonymous active card to ``member``, recorded as a ``bind`` event.

    The card's accounts stay with the card, so its balances now count for the member.
    Callers check the PIN first; this refuses a card that is held or not active.
    """
    if card.member_id is not None:
        raise InvalidRequest("this card already belongs to a member", field="card")
    if card.state != "active":
        raise CardNotActive(f"a card that is {card.state} cannot be bound", state=card.state)
    card.member = member
    db.session.add(
        CardEvent(
            card_id=card.id,
            action="bind",
            from_state=card.state,
            to_state=card.state,
            actor=actor,
            reason=reason or f"bound to member {member.id}",
        )
    )
    db.session.flush()
    return card


def add_medium(card: Card, kind: str, value: str) -> CardMedium:
    if kind not in MEDIUM_KINDS:
        raise InvalidRequest(f"medium kind must be one of {', '.join(MEDIUM_KINDS)}", field="kind")
    value = value.strip()
    if not value or len(value) > 128:
        raise InvalidRequest("medium value must be 1 to 128 characters", field="value")
    taken = db.session.scalar(
        select(CardMedium).where(CardMedium.kind == kind, CardMedium.value == value)
    )
    if taken is not None:
        raise InvalidRequest(f"this {kind} already belongs to a card", field="value")
    medium = CardMedium(card=card, kind=kind, value=value)
    db.session.add(medium)
    db.session.flush()
    return medium


def card_history(card: Card) -> list[CardEvent]:
    return list(
        db.session.scalars(
            select(CardEvent).where(CardEvent.card_id == card.id).order_by(CardEvent.id)
        )
    )


# --- PINs ---------------------------------------------------------------------------


@lru_cache(maxsize=8)
def _hasher(time_cost: int, memory_kib: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=1)


def _pin_hasher() -> PasswordHasher:
    cfg = current_app.config
    return _hasher(cfg["ARGON2_TIME_COST"], cfg["ARGON2_MEMORY_KIB"])


def hash_pin(pin: str) -> str:
    if not (isinstance(pin, str) and pin.isascii() and pin.isdigit() and 4 <= len(pin) <= 8):
        raise InvalidRequest("a PIN is 4 to 8 digits", field="pin")
    return _pin_hasher().hash(pin)


def set_pin(card: Card, new_pin: str | None, *, old_pin: str | None = None) -> None:
    """Set, change or clear a PIN; changing an existing PIN needs the old one."""
    if card.pin_hash is not None:
        verify_pin(card, old_pin)
    card.pin_hash = hash_pin(new_pin) if new_pin is not None else None
    card.pin_failures = 0
    card.pin_locked_until = None
    db.session.flush()


def verify_pin(card: Card, pin: str | None, *, now: dt.datetime | None = None) -> None:
    """Pass silently, or raise. Wrong attempts are counted; the limit locks the card a while.

    The count is flushed before raising and the errors are ``persist``, so the
    boundary keeps it even though the request fails.
    """
    if card.pin_hash is None:
        return
    now = now or utcnow()
    cfg = current_app.config
    if card.pin_locked_until is not None and card.pin_locked_until > now:
        raise PinLocked(
            "too many wrong PINs; try again later",
            locked_until=card.pin_locked_until.isoformat(timespec="seconds"),
        )
    if not pin:
        raise PinRequired("this card needs its PIN", field="pin")
    try:
        _pin_hasher().verify(card.pin_hash, pin)
    except (VerificationError, InvalidHashError):
        card.pin_failures += 1
        if card.pin_failures >= cfg["PIN_MAX_ATTEMPTS"]:
            card.pin_failures = 0
            card.pin_locked_until = now + dt.timedelta(minutes=cfg["PIN_LOCK_MINUTES"])
            db.session.flush()
            raise PinLocked(
                f"too many wrong PINs; the card is locked for {cfg['PIN_LOCK_MINUTES']} minutes",
                locked_until=card.pin_locked_until.isoformat(timespec="seconds"),
            ) from None
        db.session.flush()
        raise WrongPin(
            "wrong PIN", attempts_left=cfg["PIN_MAX_ATTEMPTS"] - card.pin_failures
        ) from None
    if card.pin_failures or card.pin_locked_until:
        card.pin_failures = 0
        card.pin_locked_until = None
        db.session.flush()


def count_cards(store_ids: frozenset[int] | None = None) -> int:
    """Cards not cancelled, or only those issued at one of ``store_ids``."""
    query = select(func.count()).select_from(Card).where(Card.state != "cancelled")
    if store_ids is not None:
        query = query.where(Card.issued_store_id.in_(store_ids))
    return db.session.scalar(query) or 0
