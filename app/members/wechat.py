"""WeChat openids bound to members: who an openid is, and a member's openid.

The checks a binding needs first (a code sent to the phone, a scene QR) live with the
flows that make them; these functions only read and write the binding rows.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from sqlalchemy import ScalarSelect, Select, bindparam, delete, literal, select

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


@functools.cache
def _profile_by_openid(opted_out: ScalarSelect[bool] | None) -> Select[Any]:
    flag = opted_out if opted_out is not None else literal(False)
    return (
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
    row = (
        db.connection()
        .execute(_profile_by_openid(opted_out), {"openid": openid, **(params or {})})
        .first()
    )
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
    db.session.flush()
    return binding


def unbind_openid(openid: str) -> bool:
    """Remove this openid's binding; False when it had none."""
    result = db.session.execute(delete(WechatBinding).where(WechatBinding.openid == openid))
    return bool(getattr(result, "rowcount", 0))
