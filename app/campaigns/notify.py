"""Telling a member how a vote or a draw they took part in came out.

Sent as ``member_notice``; messaging queues it (one outbox row per key) in this
transaction, in the member's language, on the channel they took part by.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.members.models import Member
from app.signals import member_notice


def notify(
    member: Member, channel: str, msgid: str, values: Mapping[str, Any], *, key: str
) -> None:
    member_notice.send(member, msgid=msgid, values=dict(values), channel=channel, dedupe_key=key)
