"""Answers to WeChat events (subscribe, unsubscribe, menu clicks, scene scans).

The webhook calls ``answer_event`` through ``app.messaging.inbound.receive``, which claims
the event once (by openid, CreateTime and event) and replays the reply to WeChat's
retries: a retried subscribe binds and welcomes once.
"""

from __future__ import annotations

from flask import current_app

from app import clock
from app.bot.commands.wechat import refusal
from app.bot.engine import run_command
from app.bot.message import Message, Reply
from app.i18n import gettext, in_language
from app.members.wechat import BindingRefused, profile_for_openid
from app.optout.services import opt_in, opt_out
from app.wechat.binding import bind_by_scene
from app.wechat.event import Event

#: Menu keys (CLICK ``EventKey``) and the command each runs.
#: ``promotions`` is not on the default menu; a shop's own menu may add a 活动 button with it.
MENU_COMMANDS = {
    "points": "points",
    "balance": "balance",
    "ecard": "ecard",
    "help": "help",
    "promotions": "promotions",
}
_SCENE_PREFIX = "qrscene_"


def answer_event(event: Event) -> Reply:
    """The reply to ``event``; silent for events that need none (VIEW, unknown ones)."""
    kind = event.event
    if kind == "subscribe":
        # Following again undoes an unsubscribe: messages may go to this openid once more.
        opt_in("wechat", event.openid, source="wechat:subscribe")
        if event.key.startswith(_SCENE_PREFIX):
            return _scene(event, event.key[len(_SCENE_PREFIX) :])
        return _welcome(event)
    if kind == "scan" and event.key:
        return _scene(event, event.key)
    if kind == "unsubscribe":
        # Nothing more may be sent: WeChat refuses it anyway (43004), and the outbox
        # suppresses what is queued.
        opt_out("wechat", event.openid, source="wechat:unsubscribe")
        return Reply("", _language(event.openid), "unsubscribe", silent=True)
    if kind == "click" and event.key in MENU_COMMANDS:
        return run_command(_message(event), MENU_COMMANDS[event.key])
    return Reply("", _language(event.openid), kind, silent=True)


def _message(event: Event) -> Message:
    """The event as the engine sees a message from this openid (no text, no keyword)."""
    return Message(
        channel="wechat",
        sender=event.openid,
        text="",
        provider_id=None,
        received_at=clock.now(),
    )


def _language(openid: str) -> str:
    profile = profile_for_openid(openid)
    return profile.language if profile is not None else current_app.config["DEFAULT_LANGUAGE"]


def _welcome(event: Event) -> Reply:
    language = _language(event.openid)
    bound = profile_for_openid(event.openid) is not None
    with in_language(language):
        if bound:
            text = gettext(
                "Welcome back! Send POINTS for your points, ECARD for your e-card, HELP for "
                "the commands."
            )
        else:
            text = gettext(
                "Welcome! To see your points and use your card here, send BIND followed by "
                "your mobile number (for example BIND 13800138000). Not a member yet? Send "
                "JOIN followed by your mobile number."
            )
    return Reply(text, language, "subscribe")


def _scene(event: Event, scene: str) -> Reply:
    outcome = bind_by_scene(event.openid, scene)
    language = outcome.member.language if outcome.member is not None else _language(event.openid)
    with in_language(language):
        if outcome.refused is None:
            text = gettext(
                "Done: this WeChat is now bound to your membership. Send POINTS for your "
                "points, ECARD for your e-card, HELP for the commands."
            )
        elif outcome.refused == "unknown":
            text = gettext("This QR code is not one of ours. Please ask at the counter.")
        elif outcome.refused == "used":
            text = gettext(
                "This QR code has already been used. Please ask at the counter for a new one."
            )
        elif outcome.refused == "expired":
            text = gettext("This QR code has expired. Please ask at the counter for a new one.")
        else:
            text = refusal(BindingRefused(outcome.refused))
    return Reply(text, language, "scene")
