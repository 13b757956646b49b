"""A notice to one member about something they took part in (``member_notice``): a vote's
results, a draw's outcome. Queued in the sender's transaction, kind ``alert`` (an answer to
what the member did, not marketing; an opt-out still stops it at send time)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.i18n import gettext, in_language
from app.members.wechat import openid_for_member
from app.messaging.services import enqueue
from app.signals import member_notice


def on_member_notice(
    member: Any,
    *,
    msgid: str,
    values: Mapping[str, Any],
    channel: str,
    dedupe_key: str,
    **_: Any,
) -> None:
    address, route = member.phone, "sms"
    if channel == "wechat":
        openid = openid_for_member(member.id)
        if openid is not None:
            address, route = openid, "wechat"
    with in_language(member.language):
        body = gettext(msgid, **values)
    enqueue(
        address=address,
        body=body,
        kind="alert",
        language=member.language,
        member=member,
        channel=route,
        dedupe_key=dedupe_key,
    )


def connect() -> None:
    """Subscribe once per process (blinker holds the function strongly)."""
    member_notice.connect(on_member_notice, weak=False)
