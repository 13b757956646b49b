"""``handle_message``: one inbound message in, one reply out, inside the caller's transaction.

The filter chain, in order (each may answer instead of the command):

1. An exact opt-out keyword (STOP, TD, 退订…) always works, even over the rate limit.
2. Opt-out gate: an opted-out sender gets silence, except for the opt-in keywords.
3. Rate limit per sender: one polite warning per window, then silence.
4. Input hygiene: too long, control characters, emoji, mixed scripts → a clear reply.
5. No command matched → a short pointer to HELP (a stranger is told how to join);
   a sentence that merely starts with STOP / 退订 is told the exact keyword.
6. Member commands from a stranger → how to join.

The command then runs (in a savepoint if it writes). A handler error is never lost or swallowed
silently: it is logged with its traceback (phone masked), its writes are rolled
back, and the sender gets a polite reply. With ``BOT_RAISE_ERRORS`` (tests) it is
re-raised instead, so a test sees the real error.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from flask import current_app
from sqlalchemy import CTE, Select, bindparam, literal, select

import app.bot.commands  # noqa: F401  (registers every command)
from app.bot import text as texts
from app.bot.commands.subscription import OPT_IN, OPT_OUT
from app.bot.message import Message, Reply, Sender
from app.bot.ratelimit import Verdict, limiter_for
from app.bot.registry import Context, Match, Prefetch, registry
from app.bot.replies import (
    bad_input,
    how_to_join,
    not_understood,
    opt_out_hint,
    slow_down,
    something_went_wrong,
)
from app.db import db
from app.i18n import in_language
from app.ledger.prepared import Prepared
from app.members.models import Level, Member, level_name_sql
from app.optout.services import OPTED_OUT, opted_out_params
from app.phone import mask_phone

log = logging.getLogger(__name__)
T = TypeVar("T")


def handle_message(message: Message) -> Reply:
    """Answer ``message``; flushes only (the caller commits). Never raises for bad input."""
    raw = message.text or ""
    normalised, match = _read(message)
    sender = _sender(message, match)
    language = _language(sender, match, normalised)
    name = match.command.name if match else None

    if match is not None and name == OPT_OUT:
        return _run(message, sender, language, match)
    if sender.opted_out and name != OPT_IN:
        return Reply("", language, "opted_out", silent=True)

    verdict = limiter_for().check(f"{message.channel}:{message.sender}")
    if verdict is Verdict.SILENCE:
        return Reply("", language, "rate_limited", silent=True)
    if verdict is Verdict.WARN:
        return _say(slow_down, language, "rate_limited")

    problem = texts.problem(raw)
    if problem is not None:
        return _say(lambda: bad_input(problem), language, "bad_input")
    if match is None:
        if _sounds_like_opt_out(normalised):
            return _say(opt_out_hint, language, "opt_out_hint")
        member = sender.member_id is not None
        return _say(lambda: not_understood(member=member), language, "unknown")
    if match.command.member_required and sender.member_id is None:
        return _say(how_to_join, language, "join_first")
    return _run(message, sender, language, match)


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
    opt_out = registry.commands[OPT_OUT].keywords
    words = {w for words in opt_out.values() for w in words if len(w) > 1}
    return first in words or any(text.startswith(w) for w in words if not w.isascii())


#: Channels whose sender address is a phone number, looked up among members.
_PHONE_CHANNELS = ("sms", "simulator")


class _HandOver(Generic[T]):
    """What one step of answering a message leaves for a later step, for that same
    message object only: a context variable, so each thread (each request) has its own,
    and no database session is opened to carry it."""

    def __init__(self, name: str) -> None:
        self._var: ContextVar[tuple[Message, T] | None] = ContextVar(name, default=None)

    def give(self, message: Message, value: T) -> None:
        self._var.set((message, value))

    def take(self, message: Message) -> T | None:
        kept = self._var.get()
        if kept is None:
            return None
        self._var.set(None)
        return kept[1] if kept[0] is message else None


#: ``known_sender``'s sender, for ``_sender``.
_KNOWN_SENDER = _HandOver[Sender]("laoyou_known_sender")
#: ``plan_for``'s reading of the text (normalised, matched), for ``handle_message``.
_READ = _HandOver[tuple[str, Match | None]]("laoyou_read")


@dataclass(frozen=True)
class Plan:
    """What answering a message will do, known from its text before the engine runs."""

    #: The answer may write (a command with ``writes``): the adapter claims the message
    #: first, so that twin deliveries wait and the effects happen once. Otherwise the
    #: answer only reads, and the adapter may compute it first and store it with the claim.
    writes: bool
    #: What the command would read with the sender (``Command.prefetch``).
    prefetch: Prefetch | None


_READS_ONLY = Plan(writes=False, prefetch=None)


def plan_for(message: Message) -> Plan:
    """``Plan`` of ``message``: the command its text asks for decides (no match reads only).

    What it read of the text is kept for ``handle_message`` of the same message.
    """
    normalised, match = _read(message)
    _READ.give(message, (normalised, match))
    if match is None:
        return _READS_ONLY
    return Plan(writes=match.command.writes, prefetch=match.command.prefetch)


def _read(message: Message) -> tuple[str, Match | None]:
    """The normalised text and the command it asks for ("" and None past the length limit)."""
    kept = _READ.take(message)
    if kept is not None:
        return kept
    raw = message.text or ""
    normalised = texts.normalise(raw) if len(raw) <= texts.MAX_MESSAGE_CHARS else ""
    return normalised, registry.match(normalised) if normalised else None


def sender_statement(source: CTE, prefetch: Prefetch | None = None) -> Select[Any]:
    """The sender lookup riding on another statement: ``source``'s columns, then the
    ``Sender`` (read it with ``sender_of``), with ``sender_params`` as parameters.

    An adapter that runs a statement before the engine anyway (the webhook's dedupe
    insert) fetches the sender in it and hands it over with ``known_sender``: one
    round trip per message fewer. ``source`` must yield at most one row.
    """
    extra = prefetch.columns(Member.id) if prefetch is not None else ()
    return (
        select(
            source, Member.id, Member.language, level_name_sql(Member.language), OPTED_OUT, *extra
        )
        .select_from(source)
        .outerjoin(Member, Member.phone == bindparam("optout_address"))
        .outerjoin(Level, Level.id == Member.level_id)
    )


def sender_params(message: Message, prefetch: Prefetch | None = None) -> dict[str, Any]:
    """The parameters of ``sender_statement`` for ``message``."""
    params = opted_out_params(message.channel, message.sender)
    if prefetch is not None:
        params.update(prefetch.params())
    return params


def sender_of(row: Sequence[Any], prefetch: Prefetch | None = None) -> Sender:
    """The ``Sender`` in a ``sender_statement`` row, from the first column after ``source``'s."""
    member_id, language, level, opted_out = row[:4]
    prefetched = prefetch.read(row[4:]) if prefetch is not None and member_id is not None else None
    return Sender(member_id, language, level, bool(opted_out), prefetched)


#: The engine's own lookups (no claim to ride on), compiled once per prefetch and run on
#: the session's connection: a member or a stranger, and the opt-out, in one row.
_SENDER: dict[Prefetch | None, Prepared] = {}
_OPT_OUT = Prepared(select(OPTED_OUT))


def _sender_lookup(prefetch: Prefetch | None) -> Prepared:
    found = _SENDER.get(prefetch)
    if found is None:
        source = select(literal(1).label("one")).cte("one")
        found = _SENDER[prefetch] = Prepared(sender_statement(source, prefetch))
    return found


def prefetches_sender(message: Message) -> bool:
    """Whether ``sender_statement`` finds this message's sender (phone channels only)."""
    return message.channel in _PHONE_CHANNELS


def known_sender(message: Message, sender: Sender) -> None:
    """Hand over the sender fetched by ``sender_statement``; ``handle_message(message)``
    then uses it instead of asking the database again (same message object only)."""
    _KNOWN_SENDER.give(message, sender)


def _sender(message: Message, match: Match | None) -> Sender:
    """The sender's membership and opt-out, in one query (the hot path)."""
    known = _KNOWN_SENDER.take(message)
    if known is not None:
        return known
    # Prepared statements bypass the session's autoflush; members added but not yet
    # flushed (JOIN earlier in the same unit of work) must still be found.
    db.session.flush()
    connection = db.session.connection()
    # WeChat openids are bound to members by the WeChat issue; until then, strangers.
    if message.channel in _PHONE_CHANNELS:
        prefetch = match.command.prefetch if match is not None else None
        row = _sender_lookup(prefetch).rows(connection, sender_params(message, prefetch))[0]
        return sender_of(row[1:], prefetch)
    params = opted_out_params(message.channel, message.sender)
    return Sender(opted_out=bool(_OPT_OUT.scalar(connection, params)))


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
