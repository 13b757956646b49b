"""BIND <card> [PIN]: attach a physical card (a gift card, say) to the sender's membership;
from a WeChat openid not bound yet, BIND <phone> binds the openid (``commands.wechat``)."""

from __future__ import annotations

import datetime as dt

from app.bot.commands.wechat import bind_phone
from app.bot.registry import Context, command
from app.bot.replies import last4
from app.cards.models import Card
from app.cards.services import bind_card, find_card, verify_pin
from app.clock import to_local
from app.errors import PinLocked, PinRequired, WrongPin
from app.i18n import gettext
from app.ledger.balances import Balances, card_balances

#: Longest card reference echoed back in a reply.
_ECHO_CHARS = 24


@command(
    "bind",
    keywords={"zh-Hans": ("绑定", "BD"), "zh-Hant": ("綁定",), "en": ("BIND",)},
    strangers_on=("wechat",),
)
def bind(ctx: Context) -> str:
    member = ctx.member
    if member is None:
        # An openid not bound yet: BIND <phone> proves the phone to bind this WeChat.
        return bind_phone(ctx)
    readings = _readings(ctx.args)
    if not readings:
        return gettext(
            "Text BIND followed by the card number, and the PIN if the card has one. "
            "For example: BIND 8800123412341234 123456"
        )
    card, pin = _find(readings)
    if card is None:
        return gettext(
            "We could not find card %(card)s. Please check the number and try again.",
            card=readings[0][0][:_ECHO_CHARS],
        )
    label = last4(card.number)
    if card.member_id == member.id:
        return gettext("Card ending %(card)s is already bound to you.", card=label)
    if card.member_id is not None:
        return gettext(
            "Card ending %(card)s belongs to another member and cannot be bound. "
            "Please ask at the counter.",
            card=label,
        )
    if card.state != "active":
        return gettext(
            "Card ending %(card)s cannot be bound because it is %(state)s. "
            "Please ask at the counter.",
            card=label,
            state=_state_name(card.state),
        )
    if card.pin_hash is None and _holds_value(card):
        # Anyone who saw the number could otherwise take an anonymous card's value by text.
        return gettext(
            "Card ending %(card)s holds value, so it can only be bound with its PIN. "
            "Please ask at the counter to set a PIN, then text BIND, the card number and the PIN.",
            card=label,
        )
    try:
        verify_pin(card, pin)
    except PinRequired:
        return gettext(
            "Card ending %(card)s has a PIN. Text BIND, the card number and the PIN.", card=label
        )
    except WrongPin as exc:
        return gettext(
            "Wrong PIN for the card ending %(card)s. %(left)s attempts left before the card locks.",
            card=label,
            left=exc.details.get("attempts_left", 0),
        )
    except PinLocked as exc:
        return gettext(
            "Too many wrong PINs: the card ending %(card)s is locked until %(time)s. "
            "Please try again later.",
            card=label,
            time=_local_time(exc.details.get("locked_until")),
        )
    bind_card(
        card,
        member,
        actor=f"{ctx.message.channel}:member:{member.id}"[:64],
        reason=f"bound to member {member.id} by text",
    )
    return gettext("Card ending %(card)s is now bound to your membership.", card=label)


def _readings(args: str) -> list[tuple[str, str | None]]:
    """Ways to read "card [PIN]": people copy card numbers in groups (8800 1234 …) or with dashes.

    Two words are most often a card and its PIN; more words are most often one
    grouped card number, perhaps followed by a PIN. Each reading is tried in turn.
    """
    words = [w.replace("-", "") if w.replace("-", "").isdigit() else w for w in args.split()]
    if not words:
        return []
    readings: list[tuple[str, str | None]] = []
    if len(words) <= 2:
        readings.append((words[0], words[1] if len(words) == 2 else None))
    if len(words) >= 2 and all(w.isdigit() for w in words):
        readings.append(("".join(words), None))
        if len(words) > 2:
            readings.append(("".join(words[:-1]), words[-1]))
    return readings


def _find(readings: list[tuple[str, str | None]]) -> tuple[Card | None, str | None]:
    for reference, pin in readings:
        card = find_card(reference)
        if card is not None:
            return card, pin
    return None, None


def _holds_value(card: Card) -> bool:
    """A period card's validity, or any balance (money, points, visits), is worth taking."""
    return card.type == "period" or card_balances(card.id) != Balances()


def _state_name(state: str) -> str:
    names = {
        "lost": gettext("reported lost"),
        "frozen": gettext("frozen"),
        "cancelled": gettext("cancelled"),
        "expired": gettext("expired"),
    }
    return names.get(state, state)


def _local_time(iso: str | None) -> str:
    if not iso:
        return "-"
    moment = dt.datetime.fromisoformat(iso)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return to_local(moment).strftime("%H:%M")
