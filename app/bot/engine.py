"""``handle_message``: one inbound message in, one reply out, inside the caller's transaction.

Channel-free: it takes the message's (channel, sender, text), reads what it needs
through the packages' services, and returns the reply; SMS and WeChat adapters
only translate (``app.messaging.inbound`` deduplicates and stores the reply).

The filter chain, in order (each may answer instead of the command):

1. An exact opt-out keyword (STOP, TD, 退订…) always works, even over the rate limit.
2. Opt-out gate: an opted-out sender gets silence, except for the opt-in keywords.
3. Rate limit per sender: one polite warning per window, then silence.
4. Input hygiene: too long, control characters, emoji, mixed scripts → a clear reply.
5. No command matched → a short pointer to HELP (a stranger is told how to join);
   a sentence that merely starts with STOP / 退订 is told the exact keyword.
6. Member commands from a stranger → how to join (on WeChat: how to bind the openid).

A WeChat sender is the member its openid is bound to (``members.wechat.profile_for_openid``);
its opt-out is the registry's ``wechat`` channel. ``run_command`` answers a menu click as
the named command, through the same filters.

The command then runs (in a savepoint if it writes). A handler error is never lost or swallowed
silently: it is logged with its traceback (phone masked), its writes are rolled
back, and the sender gets a polite reply. With ``BOT_RAISE_ERRORS`` (tests) it is
re-raised instead, so a test sees the real error.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

from flask import current_app

from app.bot import current_registry
from app.bot import text as texts
from app.bot.commands.subscription import OPT_IN, OPT_OUT
from app.bot.message import Message, Reply, Sender
from app.bot.ratelimit import Verdict, limiter_for
from app.bot.registry import Command, Context, Match
from app.bot.replies import (
    bad_input,
    how_to_bind,
    how_to_join,
    not_understood,
    opt_out_hint,
    slow_down,
    something_went_wrong,
)
from app.db import db
from app.i18n import in_language
from app.members.services import member_profile
from app.members.wechat import profile_for_openid
from app.optout.services import OPTED_OUT, is_opted_out, opted_out_params
from app.phone import mask_phone

log = logging.getLogger(__name__)


def handle_message(message: Message) -> Reply:
    """Answer ``message``; flushes only (the caller commits). Never raises for bad input."""
    raw = message.text or ""
    normalised, match = _read(message)
    sender = _sender(message)
    language = _language(sender, match, normalised)
    name = match.command.name if match else None

    if match is not None and name == OPT_OUT:
        return _run(message, sender, language, match)
    held = _gate(message, sender, language, name)
    if held is not None:
        return held

    problem = texts.problem(raw)
    if problem is not None:
        return _say(lambda: bad_input(problem), language, "bad_input")
    if match is None:
        if _sounds_like_opt_out(normalised):
            return _say(opt_out_hint, language, "opt_out_hint")
        known = sender.member_id is not None
        channel = message.channel
        return _say(lambda: not_understood(member=known, channel=channel), language, "unknown")
    if _needs_member(match.command, message, sender):
        return _join_first(message, language)
    return _run(message, sender, language, match)


def run_command(message: Message, name: str) -> Reply:
    """Answer as the command ``name`` would, for a message that carries no keyword (a WeChat
    menu click): the opt-out gate, the rate limit and the member check apply as to text."""
    command = current_registry().commands[name]
    sender = _sender(message)
    language = sender.language or current_app.config["DEFAULT_LANGUAGE"]
    held = _gate(message, sender, language, name)
    if held is not None:
        return held
    if _needs_member(command, message, sender):
        return _join_first(message, language)
    return _run(message, sender, language, Match(command, "", (), ""))


def _gate(message: Message, sender: Sender, language: str, name: str | None) -> Reply | None:
    """Silence for an opted-out sender (but for opting in), then the rate limit: one
    warning per window, then silence. None: the message may be answered."""
    if sender.opted_out and name != OPT_IN:
        return Reply("", language, "opted_out", silent=True)
    verdict = limiter_for().check(f"{message.channel}:{message.sender}")
    if verdict is Verdict.SILENCE:
        return Reply("", language, "rate_limited", silent=True)
    if verdict is Verdict.WARN:
        return _say(slow_down, language, "rate_limited")
    return None


def _needs_member(command: Command, message: Message, sender: Sender) -> bool:
    return (
        command.member_required
        and sender.member_id is None
        and message.channel not in command.strangers_on
    )


def _join_first(message: Message, language: str) -> Reply:
    """A stranger tried a member command: by SMS, how to join; on WeChat, how to bind."""
    if message.channel == "wechat":
        return _say(how_to_bind, language, "bind_first")
    return _say(how_to_join, language, "join_first")


def _say(make_text: Callable[[], str], language: str, command: str) -> Reply:
    with in_language(language):
        return Reply(make_text(), language, command)


def _run(message: Message, sender: Sender, language: str, match: Match) -> Reply:
    command = match.command
    ctx = Context(
        message=message,
        sender=sender,
        language=language,
        keyword=match.keyword,
        args=match.args,
        raw_args=texts.after_keyword(message.text, match.keyword) if match.keyword else "",
    )
    savepoint = db.session.begin_nested() if command.writes else None
    try:
        with in_language(language):
            reply_text = command.handler(ctx)
        if savepoint is not None:
            savepoint.commit()
    except Exception:
        if savepoint is not None:
            savepoint.rollback()
        log.exception(
            "command %s from %s %s failed", command.name, message.channel, _masked(message)
        )
        if current_app.config.get("BOT_RAISE_ERRORS"):
            raise
        return _say(something_went_wrong, language, command.name)
    return Reply(reply_text, ctx.language, command.name, silent=not reply_text)


def _sounds_like_opt_out(text: str) -> bool:
    """A sentence that starts like an opt-out ("Stop. Thank you", "退订谢谢").

    It is no opt-out (only the exact keyword is, p2pu#593), but the sender is
    told the keyword rather than that we did not understand.
    """
    first = re.split(r"[\s.,!?;:。，！？；：]", text.upper(), maxsplit=1)[0]
    opt_out = current_registry().commands[OPT_OUT].keywords
    words = {w for words in opt_out.values() for w in words if len(w) > 1}
    return first in words or any(text.startswith(w) for w in words if not w.isascii())


#: Channels whose sender address is a phone number, looked up among members.
_PHONE_CHANNELS = ("sms", "simulator")


def reads_only(message: Message) -> bool:
    """True when answering ``message`` writes nothing: no command matches it, or the
    command declared itself read-only (``writes=False``)."""
    _, match = _read(message)
    return match is None or not match.command.writes


def _read(message: Message) -> tuple[str, Match | None]:
    """The normalised text and the command it asks for ("" and None past the length limit)."""
    raw = message.text or ""
    normalised = texts.normalise(raw) if len(raw) <= texts.MAX_MESSAGE_CHARS else ""
    return normalised, current_registry().match(normalised) if normalised else None


def _sender(message: Message) -> Sender:
    """The sender's membership and opt-out, through the members' and opt-outs' services."""
    if message.channel in _PHONE_CHANNELS:
        profile = member_profile(message.sender)
    elif message.channel == "wechat":
        # A bound openid speaks for its member; opt-outs stay the wechat channel's own.
        params = opted_out_params(message.channel, message.sender)
        profile = profile_for_openid(message.sender, opted_out=OPTED_OUT, params=params)
    else:
        profile = None
    if profile is None:
        return Sender(opted_out=is_opted_out(message.channel, message.sender))
    # The profile's opt-out: on SMS the member's flag, kept in step with the registry
    # (app.optout); on WeChat the registry's own wechat entry, read along.
    return Sender(profile.id, profile.language, profile.level, profile.sms_opt_out)


def _language(sender: Sender, match: Match | None, text: str) -> str:
    """The member's language; for a stranger, the language the keyword or text is written in."""
    if sender.language is not None:
        return sender.language
    default = current_app.config["DEFAULT_LANGUAGE"]
    if match is None or not match.languages:
        return texts.detect_language(text, default)
    if len(match.languages) == 1:
        return match.languages[0]
    # 投票 is both Simplified and Traditional: the rest of the message may tell.
    detected = texts.detect_language(match.args, match.languages[0])
    return detected if detected in match.languages else match.languages[0]


def _masked(message: Message) -> str:
    if message.channel in _PHONE_CHANNELS:
        return mask_phone(message.sender)
    return message.sender[:4] + "****"
