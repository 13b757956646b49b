"""WeChat for the station: a scene QR that binds a member's WeChat in one scan."""

from __future__ import annotations

from typing import Any

from app.api.base import Blueprint
from app.api.members import REF
from app.api.schemas import WechatQrCreateSchema, WechatQrSchema
from app.cards.services import resolve_member
from app.wechat.scenes import create_scene_qr

blp = Blueprint(
    "wechat",
    __name__,
    url_prefix="/api/v1/members",
    description="WeChat: scene QR codes that bind a member's WeChat on one scan.",
)


@blp.route("/<ref>/wechat-qr", methods=["POST"], parameters=[REF])
@blp.arguments(WechatQrCreateSchema)
@blp.response(201, WechatQrSchema)
@blp.errors(404, 415, 502, 503)
def create_qr(data: dict[str, Any], ref: str) -> dict[str, Any]:
    """A QR to show at the counter or print on a receipt: the follower who scans it (or
    follows the account through it) is bound to this member. 503 ``wechat_unavailable``:
    the WeChat API is not configured or did not answer; 502 ``wechat_refused``: it refused."""
    member = resolve_member(ref)
    qr = create_scene_qr(member, permanent=data["permanent"], expire_seconds=data["expire_seconds"])
    return {
        "ticket": qr.ticket,
        "url": qr.show_url,
        "qr_url": qr.qr_url,
        "permanent": qr.permanent,
        "expires_at": qr.expires_at,
    }
