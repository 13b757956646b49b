"""What a verified WeChat message gets: text goes to the command engine, an event to the
event answers, anything else a polite word that only text is read. All three go through
``app.messaging.inbound.receive``, claimed once by their id and replayed on WeChat's retries.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import current_app
from werobot.messages.events import WeChatEvent
from werobot.messages.messages import WeChatMessage

from app import clock
from app.bot.message import Message, Reply
from app.bot.replies import something_went_wrong
from app.db import db
from app.i18n import gettext, in_language
from app.members.wechat import member_for_openid
from app.messaging.inbound import Answerer, InboundResult, receive
from app.wechat import events
from app.wechat.event import Event

log = logging.getLogger("laoyou.wechat")
CHANNEL = "wechat"


def answer_text(openid: str, text: str, msg_id: str | None) -> InboundResult:
    """A text message, through the command engine as any channel's."""
    return receive(
        Message(
            channel=CHANNEL,
            sender=openid,
            text=text,
            provider_id=msg_id,
            received_at=clock.now(),
        )
    )


def answer(message: WeChatMessage | WeChatEvent, fields: dict[str, Any]) -> InboundResult:
    """The reply to one message from WeChat (the caller commits)."""
    openid = str(message.source)
    if isinstance(message, WeChatEvent):
        return receive_event(event_of(message, fields))
    msg_id = fields.get("MsgId") or None
    if message.type == "text":
        content = fields.get("Content")
        return answer_text(openid, content if isinstance(content, str) else "", msg_id)
    return receive(
        Message(
            channel=CHANNEL,
            sender=openid,
            text=f"[{message.type}]",
            provider_id=msg_id,
            received_at=clock.now(),
        ),
        answer=_only_text,
    )


def event_of(message: WeChatEvent, fields: dict[str, Any]) -> Event:
    key, ticket = fields.get("EventKey"), fields.get("Ticket")
    return Event(
        openid=str(message.source),
        event=str(message.type).removesuffix("_event"),
        key=key if isinstance(key, str) else "",
        ticket=ticket if isinstance(ticket, str) else "",
        create_time=int(message.time or 0),
    )


def receive_event(event: Event) -> InboundResult:
    """An event, answered by ``app.wechat.events.answer_event``; a retry (same openid,
    CreateTime and event) gets the first answer."""
    described = " ".join(part for part in ("event", event.event, event.key) if part)
    return receive(
        Message(
            channel=CHANNEL,
            sender=event.openid,
            text=f"[{described}]",
            provider_id=event.dedupe_id,
            received_at=clock.now(),
        ),
        answer=_event_answerer(event),
    )


def _event_answerer(event: Event) -> Answerer:
    def answer(message: Message) -> Reply:
        # A savepoint, as the engine gives a command that writes: a failed answer leaves
        # nothing behind, and the claim of the event (and its polite reply) still commits.
        savepoint = db.session.begin_nested()
        try:
            # Looked up at call time: the module's answer_event is the one to run.
            reply = events.answer_event(event)
            savepoint.commit()
        except Exception:
            savepoint.rollback()
            log.exception("WeChat event %s from %s failed", event.event, _masked(event.openid))
            if current_app.config.get("BOT_RAISE_ERRORS"):
                raise
            language = _language(event.openid)
            with in_language(language):
                return Reply(something_went_wrong(), language, f"event_{event.event}")
        return reply

    return answer


def _only_text(message: Message) -> Reply:
    language = _language(message.sender)
    with in_language(language):
        text = gettext(
            "Sorry, only text messages are understood here. Send HELP for the list of commands."
        )
    return Reply(text, language, "not_text")


def _language(openid: str) -> str:
    """The bound member's language, else the service's default."""
    member = member_for_openid(openid)
    if member is not None and member.language:
        return str(member.language)
    return str(current_app.config["DEFAULT_LANGUAGE"])


def _masked(openid: str) -> str:
    return openid[:4] + "****"
