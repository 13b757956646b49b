"""WeChat openids bound to members: who an openid is, a member's openid, and proving a phone.

An openid binds to a member after the phone is proved with a six-digit code sent to it
by SMS (here: issue, check, void, limits), or by a scene QR the counter showed them
(``app.wechat.binding``). The code goes out through the ``phone_code_issued`` signal,
which ``app.messaging`` turns into an SMS: members import nothing of messaging.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import current_app
from sqlalchemy import ScalarSelect, bindparam, delete, func, literal, or_, select, update

from app import clock
from app.db import db
from app.db.prepared import Prepared
from app.errors import InvalidRequest
from app.members.models import (
    ALERT_CHANNELS,
    Level,
    Member,
    PhoneCode,
    WechatBinding,
    level_name_sql,
)
from app.members.services import MemberProfile
from app.phone import normalise_phone
from app.signals import phone_code_issued

#: A code works for this long after it was sent.
CODE_TTL = dt.timedelta(minutes=10)
#: Wrong codes that void it: six digits would otherwise fall to patience.
CODE_MAX_ATTEMPTS = 5
CODE_DIGITS = 6
#: Codes one phone may be sent, and one openid may ask for, per window: every code is an
#: SMS the shop pays for, and SMS pumping fraud asks for thousands.
CODE_LIMITS = (
    (dt.timedelta(hours=1), 3, 5),
    (dt.timedelta(days=1), 6, 10),
)


class BindingRefused(Exception):
    """Why a binding step was refused; the bot turns ``reason`` into a reply.

    Reasons: ``invalid_phone``, ``not_member``, ``phone_bound`` (to another openid),
    ``openid_bound`` (this openid is bound already), ``too_many_codes``, ``no_code``,
    ``expired``, ``wrong_code`` (``attempts_left`` set), ``voided`` (too many wrong codes).
    """

    def __init__(self, reason: str, *, attempts_left: int = 0) -> None:
        super().__init__(reason)
        self.reason = reason
        self.attempts_left = attempts_left


def member_for_openid(openid: str) -> Member | None:
    """The member this openid is bound to, if any."""
    return db.session.scalar(
        select(Member)
        .join(WechatBinding, WechatBinding.member_id == Member.id)
        .where(WechatBinding.openid == openid)
    )


@functools.cache
def _profile_by_openid(opted_out: ScalarSelect[bool] | None) -> Prepared:
    flag = opted_out if opted_out is not None else literal(False)
    return Prepared(
        select(Member.id, Member.language, level_name_sql(Member.language), flag)
        .join(WechatBinding, WechatBinding.member_id == Member.id)
        .outerjoin(Level, Level.id == Member.level_id)
        .where(WechatBinding.openid == bindparam("openid"))
    )


def profile_for_openid(
    openid: str,
    *,
    opted_out: ScalarSelect[bool] | None = None,
    params: Mapping[str, Any] | None = None,
) -> MemberProfile | None:
    """``MemberProfile`` of the member this openid is bound to, in one Core row as
    ``member_profile`` reads a phone's. On WeChat the opt-out registry decides, so its
    ``sms_opt_out`` is ``opted_out``: a boolean scalar subquery (``app.optout``'s
    ``OPTED_OUT``) riding along, with its ``params``; False without one."""
    db.session.flush()  # a binding made earlier in this unit of work is found too
    row = _profile_by_openid(opted_out).first(db.connection(), {"openid": openid, **(params or {})})
    return None if row is None else MemberProfile(row[0], row[1], row[2], bool(row[3]))


def openid_for_member(member_id: int) -> str | None:
    """The openid bound to this member, if any (where their WeChat alerts go)."""
    return db.session.scalar(
        select(WechatBinding.openid).where(WechatBinding.member_id == member_id)
    )


def bind_openid(openid: str, member: Member, *, via: str) -> WechatBinding:
    """Bind ``openid`` to ``member`` (``via``: ``code`` or ``scene``); the caller has checked
    that neither is bound to someone else."""
    binding = WechatBinding(openid=openid, member_id=member.id, via=via)
    db.session.add(binding)
    if member.alert_channel is None:
        # Bound: alerts go to WeChat by default (see ``alert_addresses``).
        member.alert_channel = "wechat"
    db.session.flush()
    return binding


def unbind_openid(openid: str) -> bool:
    """Remove this openid's binding; False when it had none. Alerts go by SMS again."""
    member_id = db.session.scalar(
        select(WechatBinding.member_id).where(WechatBinding.openid == openid)
    )
    if member_id is None:
        return False
    db.session.execute(delete(WechatBinding).where(WechatBinding.openid == openid))
    db.session.execute(
        update(Member)
        .where(Member.id == member_id, Member.alert_channel.in_(("wechat", "both")))
        .values(alert_channel=None)
        .execution_options(synchronize_session="fetch")
    )
    return True


def set_alert_channel(member: Member, channel: str) -> None:
    """Where this member's alerts go: ``wechat``, ``sms`` or ``both``."""
    if channel not in ALERT_CHANNELS:
        raise InvalidRequest(
            f"alert channel must be one of {', '.join(ALERT_CHANNELS)}", field="alert_channel"
        )
    member.alert_channel = channel
    db.session.flush()


def alert_addresses(member: Member) -> list[tuple[str, str]]:
    """The (channel, address) pairs an alert to ``member`` goes to.

    WeChat alone by default once bound (template messages cost the shop nothing), SMS
    until then; a member's choice of ``sms`` or ``both`` is kept, and a choice of WeChat
    falls back to SMS while no openid is bound. Binding sets the choice to ``wechat``
    and unbinding clears it, so a member never bound (nearly every alert on the ledger's
    hot path) costs no read here.
    """
    choice = member.alert_channel
    if choice is None or choice == "sms":
        return [("sms", member.phone)]
    openid = openid_for_member(member.id)
    if openid is None:
        return [("sms", member.phone)]
    routes = []
    if choice in ("wechat", "both"):
        routes.append(("wechat", openid))
    if choice in ("sms", "both"):
        routes.append(("sms", member.phone))
    return routes


def check_bindable(openid: str, member: Member) -> None:
    """Refuse when the openid is bound already or the member is bound to another openid."""
    bound = openid_for_member(member.id)
    if bound == openid:
        raise BindingRefused("openid_bound")
    if member_for_openid(openid) is not None:
        raise BindingRefused("openid_bound")
    if bound is not None:
        raise BindingRefused("phone_bound")


def set_wechat_opt_out(openid: str, opted_out: bool) -> None:
    """Keep the flag of the member bound to this openid in step with the opt-out registry
    (``app.optout`` calls this); the registry, not the flag, decides sending."""
    member_id = db.session.scalar(
        select(WechatBinding.member_id).where(WechatBinding.openid == openid)
    )
    if member_id is not None:
        db.session.execute(
            update(Member).where(Member.id == member_id).values(wechat_opt_out=opted_out)
        )


# --- proving a phone with a code --------------------------------------------------------


@dataclass(frozen=True)
class IssuedCode:
    phone: str
    #: ``bind`` (the phone is a member's) or ``join`` (the member is made once it checks).
    purpose: str
    expires_at: dt.datetime


def request_phone_code(openid: str, phone_text: str, *, purpose: str, language: str) -> IssuedCode:
    """Send a new code to the phone named by ``phone_text`` for ``openid`` to prove it.

    ``purpose`` ``bind`` needs the phone to be a member's; ``join`` becomes ``bind`` when
    it already is. Older open codes of the openid and of the phone are voided. The SMS is
    queued through ``phone_code_issued`` in the member's language (else ``language``).
    Raises ``BindingRefused``.
    """
    from app.members.services import find_member_by_phone

    phone = normalise_phone(phone_text)
    if phone is None:
        raise BindingRefused("invalid_phone")
    if member_for_openid(openid) is not None:
        raise BindingRefused("openid_bound")
    member = find_member_by_phone(phone)
    if member is None and purpose == "bind":
        raise BindingRefused("not_member")
    if member is not None:
        purpose = "bind"
        if openid_for_member(member.id) is not None:
            raise BindingRefused("phone_bound")
    now = clock.now()
    _check_limits(openid, phone, now)
    db.session.execute(
        update(PhoneCode)
        .where(
            or_(PhoneCode.openid == openid, PhoneCode.phone == phone),
            PhoneCode.closed_at.is_(None),
        )
        .values(closed_at=now)
    )
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    row = PhoneCode(
        openid=openid,
        phone=phone,
        purpose=purpose,
        code_hash=_code_hash(openid, phone, code),
        expires_at=now + CODE_TTL,
        created_at=now,
    )
    db.session.add(row)
    db.session.flush()
    phone_code_issued.send(
        phone,
        code=code,
        language=member.language if member is not None else language,
        member=member,
        dedupe_key=f"phone_code:{row.id}",
        minutes=int(CODE_TTL.total_seconds() // 60),
    )
    return IssuedCode(phone, purpose, row.expires_at)


def _check_limits(openid: str, phone: str, now: dt.datetime) -> None:
    for window, per_phone, per_openid in CODE_LIMITS:
        since = now - window
        sent_to_phone, asked_by_openid = (
            db.session.scalar(
                select(func.count())
                .select_from(PhoneCode)
                .where(column == value, PhoneCode.created_at > since)
            )
            or 0
            for column, value in ((PhoneCode.phone, phone), (PhoneCode.openid, openid))
        )
        if sent_to_phone >= per_phone or asked_by_openid >= per_openid:
            raise BindingRefused("too_many_codes")


@dataclass(frozen=True)
class ProvedPhone:
    phone: str
    purpose: str
    #: The member with that phone (None for ``join``: the caller makes them).
    member: Member | None


def check_phone_code(openid: str, code_text: str) -> ProvedPhone:
    """Check ``code_text`` against the openid's open code and close it when right.

    A wrong code counts; the fifth voids it. Raises ``BindingRefused``; its writes (the
    count, the voiding) are meant to stay, so the caller answers rather than rolls back.
    """
    from app.members.services import find_member_by_phone

    row = db.session.scalar(
        select(PhoneCode)
        .where(PhoneCode.openid == openid, PhoneCode.closed_at.is_(None))
        .order_by(PhoneCode.id.desc())
        .limit(1)
        .with_for_update()
    )
    if row is None:
        raise BindingRefused("no_code")
    now = clock.now()
    if row.expires_at <= now:
        row.closed_at = now
        db.session.flush()
        raise BindingRefused("expired")
    typed = "".join(ch for ch in code_text if not ch.isspace())
    if not hmac.compare_digest(_code_hash(openid, row.phone, typed), row.code_hash):
        row.attempts += 1
        left = CODE_MAX_ATTEMPTS - row.attempts
        if left <= 0:
            row.closed_at = now
        db.session.flush()
        if left <= 0:
            raise BindingRefused("voided")
        raise BindingRefused("wrong_code", attempts_left=left)
    row.closed_at = now
    db.session.flush()
    member = find_member_by_phone(row.phone)
    if member is not None:
        check_bindable(openid, member)
    return ProvedPhone(row.phone, row.purpose, member)


def _code_hash(openid: str, phone: str, code: str) -> str:
    """HMAC-SHA256 under a key derived from SECRET_KEY: a leaked table gives no codes, and
    a six-digit code needs no slow hash when the key is out of reach."""
    key = hmac.new(
        current_app.config["SECRET_KEY"].encode(), b"laoyou.phone-code", hashlib.sha256
    ).digest()
    message = f"{openid}\x1f{phone}\x1f{code}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()
