"""Answers to WeChat events (subscribe, unsubscribe, menu clicks, scene scans)."""

from __future__ import annotations

from app.bot.message import Reply
from app.wechat.event import Event


def answer_event(event: Event) -> Reply:
    """The reply to ``event``; silent for events that need none."""
    return Reply("", "zh-Hans", event.event, silent=True)
