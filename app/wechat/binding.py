"""Binding an openid in one step by scanning a scene QR the counter showed (or a receipt
carried): the scene names a member the station already knows."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from app import clock
from app.db import db
from app.members.models import Member
from app.members.services import get_member
from app.members.wechat import BindingRefused, bind_openid, check_bindable, member_for_openid
from app.wechat.models import WechatScene


@dataclass(frozen=True)
class SceneBinding:
    """The outcome of a scan: the member bound, or why not (``refused``)."""

    member: Member | None
    #: ``unknown``, ``used``, ``expired``, or a ``BindingRefused`` reason.
    refused: str | None = None


def bind_by_scene(openid: str, scene: str) -> SceneBinding:
    """Bind ``openid`` to the member of ``scene`` (unused, not expired) and mark it used."""
    row = db.session.scalar(
        select(WechatScene).where(WechatScene.scene == scene[:64]).with_for_update()
    )
    if row is None:
        return SceneBinding(None, "unknown")
    if row.used_at is not None:
        return SceneBinding(None, "used")
    now = clock.now()
    if row.expires_at is not None and row.expires_at <= now:
        return SceneBinding(None, "expired")
    member = get_member(row.member_id)
    if member is None:
        return SceneBinding(None, "unknown")
    already = member_for_openid(openid)
    if already is not None and already.id == member.id:
        # The member scanned their own QR from the WeChat bound to them: nothing to change.
        row.used_at = now
        db.session.flush()
        return SceneBinding(member)
    try:
        check_bindable(openid, member)
    except BindingRefused as refused:
        return SceneBinding(member, refused.reason)
    bind_openid(openid, member, via="scene")
    row.used_at = now
    db.session.flush()
    return SceneBinding(member)
