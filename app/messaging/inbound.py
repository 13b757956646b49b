"""One inbound message, once: deduplicate by the provider's id, run the engine, keep the reply.

Channel adapters (the Twilio webhook, later WeChat) call ``receive`` inside their
unit of work, and every message goes the same way, in that one transaction:

1. Claim the provider id: ``INSERT … ON CONFLICT DO NOTHING`` of the inbound row,
   the transaction's first write. A twin delivery arriving at the same moment
   waits on the unique index (PostgreSQL; SQLite's BEGIN IMMEDIATE queues it
   anyway) until the first commits, then finds the row and replays its reply,
   so the engine runs once and its effects happen once. If the first rolls back
   (a crash), the twin's insert succeeds and it does the work.
2. Run the engine (``app.bot.engine.handle_message``).
3. Store the reply on the claimed row.

With ``INBOUND_REPLY_FIRST`` (the default) a message whose answer writes nothing (a
command declared read-only, or no command: POINTS, BAL, HELP, "what?") is answered
first and claimed with its reply in one ``INSERT … ON CONFLICT DO NOTHING``: one
statement instead of two on the busiest path, and on PostgreSQL without ``BEGIN`` and
``COMMIT`` around it (autocommit: ``_read_only_connection``). A twin finds the first's row as above
and replays its reply; the only difference is that its engine run happened (reading
only, though it counts once more against the sender's rate limit). Off: every
message goes the claim-first way (the plain path, tested in CI too).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from flask import current_app
from sqlalchemy import Engine, Table, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite

from app.bot import engine
from app.bot.message import Message, Reply
from app.bot.replies import bad_input
from app.db import db
from app.db.prepared import Prepared
from app.i18n import in_language
from app.messaging.models import InboundMessage
from app.phone import mask_phone

log = logging.getLogger("laoyou.inbound")
#: What answers a message: the command engine, or a channel's answer to an event.
Answerer = Callable[[Message], Reply]
NUL = "\x00"


@dataclass(frozen=True)
class InboundResult:
    reply: str
    language: str | None
    command: str | None
    silent: bool
    #: True when this provider id was seen before and the stored reply is returned.
    replayed: bool


def receive(message: Message, answer: Answerer | None = None) -> InboundResult:
    """Answer ``message`` (the caller commits); a repeated provider id gets the first reply.

    ``answer`` answers what is no text for the engine (a WeChat event) the same way:
    claimed once, its reply kept and replayed. Default: the command engine.
    """
    if NUL in message.text or NUL in message.sender or NUL in (message.provider_id or ""):
        return _unreadable(message)
    if not message.provider_id:
        return _answered(message, _answer(message, answer))
    reply_first = answer is None and current_app.config["INBOUND_REPLY_FIRST"]
    if reply_first and engine.reads_only(message):
        return _reply_first(message, _read_only_connection())
    # Core on the session's connection, in its transaction: nothing of the ORM to flush.
    connection = db.connection()
    row_id = _claim_for(connection.dialect.name).scalar(connection, _values(message))
    if row_id is None:
        return _replay(message)
    answered = _answer(message, answer)
    db.connection().execute(_RECORD, {"row_id": row_id, **answered})
    return _answered(message, answered)


def _reply_first(message: Message, connection: Any) -> InboundResult:
    """A read-only answer, claimed together with its reply (see the module docstring)."""
    answered = _answer(message, None)
    claim = _claim_for(connection.dialect.name, with_reply=True)
    if claim.scalar(connection, {**_values(message), **answered}) is None:
        return _replay(message)
    return _answered(message, answered)


def _read_only_connection() -> Any:
    """The connection for a read-only answer: on PostgreSQL in autocommit, when nothing of
    this unit of work has run yet.

    Its two reads and the one claiming ``INSERT`` need no transaction around them (the
    insert is atomic alone, and a twin still waits on its unique index), and ``BEGIN`` and
    ``COMMIT`` are two of a POINTS message's six round trips: without them the SMS webhook
    went from 0.33–0.35 to 0.38–0.41 of the insert baseline (docs/benchmarks.md). The
    pool puts the connection's isolation level back when it is returned. Tests whose
    sessions join an outer transaction, and SQLite (no round trips to save), take the
    session's own connection.
    """
    session = db.session()
    bind = session.get_bind()
    if (
        not session.in_transaction()
        and isinstance(bind, Engine)
        and bind.dialect.name == "postgresql"
    ):
        return session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    return session.connection()


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


def _answer(message: Message, answer: Answerer | None) -> dict[str, Any]:
    """The engine's (or ``answer``'s) reply as the inbound row keeps it."""
    # Looked up at call time: tests stand a recorder in for the engine.
    reply = (answer or engine.handle_message)(message)
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
_INSERT: dict[str, Any] = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


@functools.cache
def _claim_for(dialect: str, *, with_reply: bool = False) -> Prepared:
    """The dedupe insert, with a placeholder reply that ``_RECORD`` fills in once the
    engine has answered (or, ``with_reply``, the reply itself); the new row's id, or
    nothing when the id was claimed before."""
    reply: dict[str, Any] = (
        {
            "reply": bindparam("reply"),
            "reply_language": bindparam("reply_language"),
            "command": bindparam("command"),
            "status": bindparam("status"),
        }
        if with_reply
        else {"reply": "", "status": "silent"}
    )
    return Prepared(
        _INSERT[dialect](_TABLE)
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


_RECORD = (
    update(_TABLE)
    .where(_TABLE.c.id == bindparam("row_id"))
    .values(
        reply=bindparam("reply"),
        reply_language=bindparam("reply_language"),
        command=bindparam("command"),
        status=bindparam("status"),
    )
)
_SEEN = select(_TABLE.c.reply, _TABLE.c.reply_language, _TABLE.c.command, _TABLE.c.status).where(
    _TABLE.c.channel == bindparam("channel"),
    _TABLE.c.provider_id == bindparam("provider_id"),
)


def _values(message: Message) -> dict[str, Any]:
    return {
        "channel": message.channel,
        "provider_id": message.provider_id,
        "sender": message.sender,
        "text": message.text,
        "received_at": message.received_at,
    }


def _replay(message: Message) -> InboundResult:
    """The stored reply of a message another delivery claimed (it has committed by now:
    the claim waited for it)."""
    params = {"channel": message.channel, "provider_id": message.provider_id}
    reply, language, command, status = db.connection().execute(_SEEN, params).one()
    log.info(
        "%s from %s: replay of %s", message.channel, mask_phone(message.sender), message.provider_id
    )
    return InboundResult(
        reply=reply, language=language, command=command, silent=status == "silent", replayed=True
    )
