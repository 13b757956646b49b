"""Scene QR codes: a parametric QR the station shows or prints that binds on one scan.

``create_scene_qr`` makes a ``WechatScene`` row with a random, unguessable scene string
and asks WeChat for its ticket. The member-side webhook binds the follower who scans it
(``subscribe`` with ``qrscene_<scene>``, or ``SCAN``) by reading that row: its scene, its
``expires_at`` and whether it was ``used_at`` already.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from flask import current_app

from app import clock
from app.db import db
from app.errors import InvalidRequest, WechatRefused, WechatUnavailable
from app.members.models import Member
from app.messaging.providers import PermanentError, TransientError
from app.messaging.providers.wechat import (
    QR_MAX_EXPIRE_SECONDS,
    QrTicket,
    wechat_client,
    wechat_configured,
)
from app.wechat.models import WechatScene

#: A week: long enough for a QR printed on a receipt to be scanned at home.
DEFAULT_EXPIRE_SECONDS = 7 * 24 * 3600
#: Shorter would expire while the member finds their phone.
MIN_EXPIRE_SECONDS = 60
MAX_EXPIRE_SECONDS = QR_MAX_EXPIRE_SECONDS


@dataclass(frozen=True)
class SceneQr:
    scene: str
    ticket: str
    #: WeChat's image of the QR (``showqrcode``).
    show_url: str
    #: What the QR encodes, for a station that draws it itself.
    qr_url: str
    permanent: bool
    #: None for a permanent QR.
    expires_at: dt.datetime | None


def new_scene() -> str:
    """32 URL-safe characters (192 random bits): nobody binds by guessing one."""
    return secrets.token_urlsafe(24)


def create_scene_qr(
    member: Member, *, permanent: bool = False, expire_seconds: int = DEFAULT_EXPIRE_SECONDS
) -> SceneQr:
    """A QR that binds the follower who scans it to ``member``; flushes the scene row.

    WeChat is asked first, so a refusal leaves no row. A permanent QR never expires, and
    an account may have only 100,000 of them: the temporary one is the default.
    """
    if not permanent and not MIN_EXPIRE_SECONDS <= expire_seconds <= MAX_EXPIRE_SECONDS:
        raise InvalidRequest(
            f"expire_seconds must be between {MIN_EXPIRE_SECONDS} and {MAX_EXPIRE_SECONDS}",
            field="expire_seconds",
        )
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if not wechat_configured(app):
        raise WechatUnavailable(
            "the WeChat API is not configured (WECHAT_APP_ID, WECHAT_APP_SECRET)"
        )
    scene = new_scene()
    ticket = _ticket(scene, permanent=permanent, expire_seconds=expire_seconds)
    expires_at = (
        None
        if permanent or ticket.expire_seconds is None
        else clock.now() + dt.timedelta(seconds=ticket.expire_seconds)
    )
    db.session.add(
        WechatScene(
            scene=scene,
            member_id=member.id,
            ticket=ticket.ticket,
            permanent=permanent,
            expires_at=expires_at,
        )
    )
    db.session.flush()
    return SceneQr(scene, ticket.ticket, ticket.show_url, ticket.url, permanent, expires_at)


def _ticket(scene: str, *, permanent: bool, expire_seconds: int) -> QrTicket:
    client = wechat_client(current_app._get_current_object())  # type: ignore[attr-defined]
    try:
        return client.create_qr_ticket(
            scene, permanent=permanent, expire_seconds=None if permanent else expire_seconds
        )
    except TransientError as exc:
        raise WechatUnavailable(f"the WeChat API did not answer; try again ({exc})") from exc
    except PermanentError as exc:
        raise WechatRefused(f"the WeChat API refused the QR: {exc}", errcode=exc.code) from exc
