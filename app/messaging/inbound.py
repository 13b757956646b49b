"""One inbound message, once: deduplicate by the provider's id, run the engine, keep the reply.

Channel adapters (the Twilio webhook, later WeChat) call ``receive`` inside
their unit of work. Which way a message goes depends on whether its answer may
write (``engine.plan_for``):

- It may (JOIN, BIND, VOTE, STOP…): the claim on the provider id is the first
  write of the transaction (``INSERT … ON CONFLICT DO NOTHING``). A twin delivery
  arriving at the same moment waits on the unique index until the first commits,
  then finds the row and replays its reply, so the engine's effects happen
  exactly once. If the first rolls back (a crash), the twin's insert succeeds and
  it does the work.
- It only reads (POINTS, BAL, HELP, anything not understood): one statement reads
  the sender and whether the id was seen (a replay answers from the stored row and
  runs nothing); the engine answers; one ``INSERT … ON CONFLICT DO NOTHING`` keeps
  the message with its reply. On PostgreSQL these two run in autocommit
  (``db.autocommit``): a read-only answer has nothing to make atomic
  but that one row, and BEGIN and COMMIT were half its round trips. Twins that
  overlap both compute the answer (reads, no effect); the insert lets one win,
  and the other replies with the winner's stored reply.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from typing import Any, cast

from flask import current_app
from sqlalchemy import Table, and_, bindparam, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from app.bot import engine
from app.bot.message import Message
from app.bot.registry import Prefetch
from app.bot.replies import bad_input
from app.db import db
from app.i18n import in_language
from app.ledger.prepared import Prepared
from app.messaging.models import InboundMessage
from app.phone import mask_phone

log = logging.getLogger("laoyou.inbound")
NUL = "\x00"


@dataclass(frozen=True)
class InboundResult:
    reply: str
    language: str | None
    command: str | None
    silent: bool
    #: True when this provider id was seen before and the stored reply is returned.
    replayed: bool


def receive(message: Message) -> InboundResult:
    """Answer ``message`` (the caller commits); a repeated provider id gets the first reply."""
    if NUL in message.text or NUL in message.sender or NUL in (message.provider_id or ""):
        return _unreadable(message)
    if not message.provider_id:
        return _answered(message, _answer(message))
    # Prepared statements bypass the session's autoflush (see ``engine._sender``).
    db.flush()
    plan = engine.plan_for(message)
    if not plan.writes:
        return _receive_read_only(message, plan.prefetch)
    connection = db.connection()
    row_id = _claim(connection, message, plan.prefetch)
    if row_id is None:
        return _replay(connection, message)
    answer = _answer(message)
    _RECORD.rows(connection, {"row_id": row_id, **answer})
    return _answered(message, answer)


def _unreadable(message: Message) -> InboundResult:
    """A NUL character, refused for every channel before anything is stored (PostgreSQL's
    text cannot hold it): the engine's polite reply to unreadable characters, nothing stored,
    as with a message the adapter refuses as too long. An opted-out member hears nothing."""
    from app.members.services import find_member_by_phone

    member = None if NUL in message.sender else find_member_by_phone(message.sender)
    if member is not None and member.sms_opt_out and message.channel != "wechat":
        return InboundResult("", member.language, "opted_out", silent=True, replayed=False)
    language = member.language if member is not None else current_app.config["DEFAULT_LANGUAGE"]
    with in_language(language):
        reply = bad_input("control")
    log.info("%s message refused: it contains a NUL character", message.channel)
    return InboundResult(reply, language, "bad_input", silent=False, replayed=False)


def _receive_read_only(message: Message, prefetch: Prefetch | None) -> InboundResult:
    with db.autocommit() as connection:
        if engine.prefetches_sender(message):
            params = {**_key(message), **engine.sender_params(message, prefetch)}
            row = _seen_with_sender(prefetch).rows(connection, params)[0]
            seen = row[: len(_SEEN_COLUMNS)]
            if seen[0] is None:
                sender = engine.sender_of(row[len(_SEEN_COLUMNS) :], prefetch)
                engine.known_sender(message, sender)
        else:
            seen = _SEEN.rows(connection, _key(message))[0]
        if seen[0] is not None:
            return _replayed(message, *seen[1:])
        answer = _answer(message)
        row_id = _CLAIM_ANSWERED[connection.dialect.name].scalar(
            connection, {**_values(message), **answer}
        )
        if row_id is None:  # a twin delivery stored its answer first: that one is the reply
            return _replay(connection, message)
        return _answered(message, answer)


def _answer(message: Message) -> dict[str, Any]:
    """The engine's reply as the inbound row keeps it."""
    # Looked up at call time: tests stand a recorder in for the engine.
    reply = engine.handle_message(message)
    silent = reply.silent or not reply.text
    return {
        "reply": "" if silent else reply.text,
        "reply_language": reply.language,
        "command": reply.command,
        "status": "silent" if silent else "replied",
    }


def _answered(message: Message, answer: dict[str, Any]) -> InboundResult:
    command = answer["command"]
    # DEBUG: the message, its command and its reply are a row in inbound_message already,
    # and on the hot path a log line cost 5% of a request.
    log.debug("%s from %s: %s", message.channel, mask_phone(message.sender), command or "-")
    return InboundResult(
        reply=answer["reply"],
        language=answer["reply_language"],
        command=command,
        silent=answer["status"] == "silent",
        replayed=False,
    )


_TABLE = cast(Table, InboundMessage.__table__)


def _claim_statement(insert: Any, *, answered: bool = False) -> Any:
    """The dedupe insert; ``answered``: with the reply (read-only answers), else a
    placeholder that ``_RECORD`` fills in once the engine has answered."""
    reply: dict[str, Any] = (
        {name: bindparam(name) for name in ("reply", "reply_language", "command", "status")}
        if answered
        else {"reply": "", "status": "silent"}
    )
    return (
        insert(_TABLE)
        .values(
            channel=bindparam("channel"),
            provider_id=bindparam("provider_id"),
            sender=bindparam("sender"),
            text=bindparam("text"),
            received_at=bindparam("received_at"),
            **reply,
        )
        .on_conflict_do_nothing(index_elements=["channel", "provider_id"])
        .returning(_TABLE.c.id)
    )


# Built and compiled once, run on the session's connection (``Prepared``): the webhook is
# a hot path, and SQLAlchemy's per-execute work costs more than these statements do.
_CLAIM = {
    "postgresql": Prepared(_claim_statement(postgresql.insert)),
    "sqlite": Prepared(_claim_statement(sqlite.insert)),
}
_CLAIM_ANSWERED = {
    "postgresql": Prepared(_claim_statement(postgresql.insert, answered=True)),
    "sqlite": Prepared(_claim_statement(sqlite.insert, answered=True)),
}
#: What a replay needs of a stored message: its id (None: never seen), then its reply.
_SEEN_COLUMNS = (
    _TABLE.c.id,
    _TABLE.c.reply,
    _TABLE.c.reply_language,
    _TABLE.c.command,
    _TABLE.c.status,
)


def _seen_source() -> Any:
    """Exactly one row: the stored message with this channel and provider id, or NULLs."""
    one = select(literal(1).label("one")).subquery("one")
    return (
        select(*_SEEN_COLUMNS)
        .select_from(one)
        .outerjoin(
            _TABLE,
            and_(
                _TABLE.c.channel == bindparam("channel"),
                _TABLE.c.provider_id == bindparam("provider_id"),
            ),
        )
    )


_SEEN = Prepared(_seen_source())


@functools.cache
def _seen_with_sender(prefetch: Prefetch | None) -> Prepared:
    """Whether the message was seen, its sender, and what the command will read about
    the sender, in one statement: a read-only answer's only read."""
    from app.bot.engine import sender_statement

    return Prepared(sender_statement(_seen_source().cte("seen"), prefetch))


_RECORD = Prepared(
    update(_TABLE)
    .where(_TABLE.c.id == bindparam("row_id"))
    .values(
        reply=bindparam("reply"),
        reply_language=bindparam("reply_language"),
        command=bindparam("command"),
        status=bindparam("status"),
    )
)


@functools.cache
def _claim_with_sender(prefetch: Prefetch | None) -> Prepared:
    """PostgreSQL: the claim and the engine's sender lookup (with what the command will
    read about the sender) in one statement: one round trip."""
    from app.bot.engine import sender_statement

    return Prepared(sender_statement(_claim_statement(postgresql.insert).cte("claim"), prefetch))


def _key(message: Message) -> dict[str, Any]:
    return {"channel": message.channel, "provider_id": message.provider_id}


def _values(message: Message) -> dict[str, Any]:
    return {
        **_key(message),
        "sender": message.sender,
        "text": message.text,
        "received_at": message.received_at,
    }


def _claim(connection: Connection, message: Message, prefetch: Prefetch | None) -> int | None:
    """Insert the inbound row; None when another delivery of the same id got there first.

    On PostgreSQL the same statement fetches the sender for the engine (a data-modifying
    CTE runs exactly once, and the insert still waits on a twin's uncommitted row).
    """
    values = _values(message)
    if connection.dialect.name == "postgresql" and engine.prefetches_sender(message):
        params = {**values, **engine.sender_params(message, prefetch)}
        rows = _claim_with_sender(prefetch).rows(connection, params)
        if not rows:
            return None
        engine.known_sender(message, engine.sender_of(rows[0][1:], prefetch))
        return int(rows[0][0])
    row_id = _CLAIM[connection.dialect.name].scalar(connection, values)
    return None if row_id is None else int(row_id)


def _replay(connection: Connection, message: Message) -> InboundResult:
    """The stored reply of a message another delivery claimed (it has committed by now:
    the claim waited for it)."""
    return _replayed(message, *_SEEN.rows(connection, _key(message))[0][1:])


def _replayed(
    message: Message, reply: str, language: str | None, command: str | None, status: str
) -> InboundResult:
    log.info(
        "%s from %s: replay of %s", message.channel, mask_phone(message.sender), message.provider_id
    )
    return InboundResult(
        reply=reply, language=language, command=command, silent=status == "silent", replayed=True
    )
