"""Telling a member how a vote or a draw they took part in came out.

One outbox row per member and event (the key makes a repeat queue nothing), on the
channel they took part by: WeChat when they voted or entered there and are still bound,
SMS otherwise; the text in the member's own language. Kind ``alert``: a result is an
answer to something the member did, not marketing (opt-outs still stop it at send time).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.i18n import gettext, in_language
from app.members.models import Member
from app.members.wechat import openid_for_member
from app.messaging.services import enqueue


def notify(
    member: Member, channel: str, msgid: str, values: Mapping[str, Any], *, key: str
) -> int | None:
    address, route = member.phone, "sms"
    if channel == "wechat":
        openid = openid_for_member(member.id)
        if openid is not None:
            address, route = openid, "wechat"
    with in_language(member.language):
        body = gettext(msgid, **values)
    return enqueue(
        address=address,
        body=body,
        kind="alert",
        language=member.language,
        member=member,
        channel=route,
        dedupe_key=key,
    )
