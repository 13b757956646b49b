"""WeChat openids bound to members: who an openid is, and a member's openid.

The checks a binding needs first (a code sent to the phone, a scene QR) live with the
flows that make them; these functions only read and write the binding rows.
"""

from __future__ import annotations

from sqlalchemy import bindparam, delete, select

from app.db import db
from app.members.models import Level, Member, WechatBinding
from app.members.services import MemberProfile, level_name_sql


def member_for_openid(openid: str) -> Member | None:
    """The member this openid is bound to, if any."""
    return db.session.scalar(
        select(Member)
        .join(WechatBinding, WechatBinding.member_id == Member.id)
        .where(WechatBinding.openid == openid)
    )


_PROFILE_BY_OPENID = (
    select(Member.id, Member.language, level_name_sql(Member.language))
    .join(WechatBinding, WechatBinding.member_id == Member.id)
    .outerjoin(Level, Level.id == Member.level_id)
    .where(WechatBinding.openid == bindparam("openid"))
)


def profile_for_openid(openid: str) -> MemberProfile | None:
    """``MemberProfile`` of the member this openid is bound to (one Core row, as
    ``member_profile`` reads it for a phone); its ``sms_opt_out`` is left False: on WeChat
    the opt-out registry's ``wechat`` channel decides."""
    db.session.flush()  # a binding made earlier in this unit of work is found too
    row = db.connection().execute(_PROFILE_BY_OPENID, {"openid": openid}).first()
    return None if row is None else MemberProfile(row[0], row[1], row[2], False)


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
