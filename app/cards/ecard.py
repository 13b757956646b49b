"""The e-card: a card shown as a code that changes every minute, and the signed link to it.

The code is 20 digits: ten that carry the card's id hidden under a pad of the minute, the
minute's last three digits, and seven of an HMAC over the card and the minute (both keys
derived from SECRET_KEY). It is not the card number, so a screenshot stops working. A
reader takes the minute from its three digits (the latest minute ending so, up to 999
minutes back), removes the pad to get the card id, checks the HMAC: one primary-key read,
never a scan of every card. The current minute and the one before (the grace step) are
accepted; an older one is recognised as expired, so the station can say so; anything
else is unknown.

Twenty digits is longer than any card number (at most 19) and no phone number, so an
e-card code never reads as either. The page is reached by a link signed with
itsdangerous that works for ``LINK_MAX_AGE_SECONDS``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import struct
from dataclasses import dataclass

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

from app import clock
from app.cards.models import Card
from app.db import db

STEP_SECONDS = 60
#: Steps back a code is still accepted (the code on screen just changed while scanning).
GRACE_STEPS = 1
CODE_LENGTH = 20
_ID_DIGITS = 10
_ID_SPACE = 10**_ID_DIGITS
#: The minute's last digits in the code: an old code is told apart from a forged one for
#: this many minutes (16 hours), with one HMAC whatever its age.
_STEP_DIGITS = 3
_STEP_SPACE = 10**_STEP_DIGITS
_MAC_DIGITS = CODE_LENGTH - _ID_DIGITS - _STEP_DIGITS
_MAC_SPACE = 10**_MAC_DIGITS
#: The signed link to the e-card page works this long.
LINK_MAX_AGE_SECONDS = 600
#: Where the page lives (``app.wechat`` serves it; the bot builds links to it).
PAGE_PATH = "/wechat/ecard/"


@dataclass(frozen=True)
class CodeLookup:
    """What a reference read as an e-card code names."""

    #: The card, when the code is current (or in its grace step).
    card: Card | None
    #: True when it was a real code of an earlier minute.
    expired: bool = False


def looks_like_code(ref: str) -> bool:
    return len(ref) == CODE_LENGTH and ref.isascii() and ref.isdigit()


def current_step(at: dt.datetime | None = None) -> int:
    return int((at or clock.now()).timestamp()) // STEP_SECONDS


def seconds_left(at: dt.datetime | None = None) -> int:
    """Until the code changes."""
    moment = at or clock.now()
    return STEP_SECONDS - int(moment.timestamp()) % STEP_SECONDS


def code_for(card_id: int, step: int | None = None) -> str:
    """The card's code for ``step`` (now by default)."""
    step = current_step() if step is None else step
    keys = _Keys.derive()
    hidden = (card_id + keys.pad(step)) % _ID_SPACE
    return f"{hidden:0{_ID_DIGITS}d}{step % _STEP_SPACE:0{_STEP_DIGITS}d}" + _digits(
        keys.mac(card_id, step)
    )


def lookup_code(ref: str) -> CodeLookup:
    """The card a code names now, or whether it is an expired one; ``ref`` is a code's shape."""
    hidden = int(ref[:_ID_DIGITS])
    ending = int(ref[_ID_DIGITS : _ID_DIGITS + _STEP_DIGITS])
    mac = ref[_ID_DIGITS + _STEP_DIGITS :].encode()
    now = current_step()
    age = (now - ending) % _STEP_SPACE
    step = now - age
    keys = _Keys.derive()
    card_id = (hidden - keys.pad(step)) % _ID_SPACE
    if card_id == 0 or not hmac.compare_digest(_digits(keys.mac(card_id, step)).encode(), mac):
        return CodeLookup(None)
    if age > GRACE_STEPS:
        return CodeLookup(None, expired=True)
    card = db.session.get(Card, card_id)
    if card is None or card.replaced_by_id is not None:
        return CodeLookup(None)
    return CodeLookup(card)


def _digits(mac: int) -> str:
    return f"{mac:0{_MAC_DIGITS}d}"


@dataclass(frozen=True)
class _Keys:
    """Two keys derived from SECRET_KEY: one pads the id, one signs (card, minute)."""

    pad_key: bytes
    mac_key: bytes

    @classmethod
    def derive(cls) -> _Keys:
        secret = current_app.config["SECRET_KEY"].encode()
        return cls(
            hmac.new(secret, b"laoyou.ecard.pad", hashlib.sha256).digest(),
            hmac.new(secret, b"laoyou.ecard.mac", hashlib.sha256).digest(),
        )

    def pad(self, step: int) -> int:
        return _number(self.pad_key, struct.pack(">q", step), _ID_SPACE)

    def mac(self, card_id: int, step: int) -> int:
        return _number(self.mac_key, struct.pack(">qq", card_id, step), _MAC_SPACE)


def _number(key: bytes, message: bytes, space: int) -> int:
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return int.from_bytes(digest[:16], "big") % space


# --- the signed link to the page ----------------------------------------------------------


class _ClockSigner(TimestampSigner):
    """Ages links by ``app.clock`` (frozen in tests), not the wall clock."""

    def get_timestamp(self) -> int:
        return int(clock.now().timestamp())


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(
        current_app.config["SECRET_KEY"], salt="laoyou.ecard.link", signer=_ClockSigner
    )


def link_token(card: Card) -> str:
    return _serializer().dumps({"card": card.id})


def page_link(card: Card) -> str:
    """The absolute link a member opens from WeChat."""
    base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    return f"{base}{PAGE_PATH}{link_token(card)}"


class LinkRefused(Exception):
    """The link is forged (``reason`` ``invalid``) or too old (``expired``)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def card_for_token(token: str) -> Card:
    """The card of a signed link that is still fresh; raises ``LinkRefused``."""
    try:
        data = _serializer().loads(token, max_age=LINK_MAX_AGE_SECONDS)
    except SignatureExpired as exc:
        raise LinkRefused("expired") from exc
    except BadSignature as exc:
        raise LinkRefused("invalid") from exc
    card_id = data.get("card") if isinstance(data, dict) else None
    card = db.session.get(Card, card_id) if isinstance(card_id, int) else None
    if card is None or card.replaced_by_id is not None or card.member_id is None:
        raise LinkRefused("invalid")
    return card
