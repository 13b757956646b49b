"""WeChat openids bound to members: who an openid is, and a member's openid.

The checks a binding needs first (a code sent to the phone, a scene QR) live with the
flows that make them; these functions only read and write the binding rows.
"""

from __future__ import annotations

from sqlalchemy import delete, select

from app.db import db
from app.errors import InvalidRequest
from app.members.models import ALERT_CHANNELS, Member, WechatBinding


def member_for_openid(openid: str) -> Member | None:
    """The member this openid is bound to, if any."""
    return db.session.scalar(
        select(Member)
        .join(WechatBinding, WechatBinding.member_id == Member.id)
        .where(WechatBinding.openid == openid)
    )


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
    db.session.flush()
    return binding


def unbind_openid(openid: str) -> bool:
    """Remove this openid's binding; False when it had none."""
    result = db.session.execute(delete(WechatBinding).where(WechatBinding.openid == openid))
    return bool(getattr(result, "rowcount", 0))


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
    falls back to SMS while no openid is bound.
    """
    openid = openid_for_member(member.id)
    if openid is None:
        return [("sms", member.phone)]
    choice = member.alert_channel or "wechat"
    routes = []
    if choice in ("wechat", "both"):
        routes.append(("wechat", openid))
    if choice in ("sms", "both"):
        routes.append(("sms", member.phone))
    return routes
