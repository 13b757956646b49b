"""One inbound message, once: deduplicate by the provider's id, run the engine, keep the reply.

Channel adapters (the Twilio webhook, later WeChat) call ``receive`` inside
their unit of work. The claim on the provider id is the first write of the
transaction (``INSERT … ON CONFLICT DO NOTHING``): a twin delivery arriving at
the same moment waits on the unique index until the first commits, then finds
the row and replays its reply, so the engine's effects happen exactly once. If
the first rolls back (a crash), the twin's insert succeeds and it does the work.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from app.bot import engine
from app.bot.message import Message
from app.bot.registry import Prefetch
from app.db import db
from app.ledger.prepared import Prepared
from app.messaging.models import InboundMessage
from app.phone import mask_phone

log = logging.getLogger("laoyou.inbound")


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
    row_id: int | None = None
    if message.provider_id:
        session = db.session()
        # Prepared statements bypass the session's autoflush (see ``engine._sender``).
        session.flush()
        connection = session.connection()
        row_id = _claim(connection, message)
        if row_id is None:
            return _replay(message)
    # Looked up at call time: tests stand a recorder in for the engine.
    reply = engine.handle_message(message)
    silent = reply.silent or not reply.text
    if row_id is not None:
        _RECORD.rows(
            connection,
            {
                "row_id": row_id,
                "reply": "" if silent else reply.text,
                "reply_language": reply.language,
                "command": reply.command,
                "status": "silent" if silent else "replied",
            },
        )
    log.info("%s from %s: %s", message.channel, mask_phone(message.sender), reply.command or "-")
    return InboundResult(
        reply="" if silent else reply.text,
        language=reply.language,
        command=reply.command,
        silent=silent,
        replayed=False,
    )


_TABLE = cast(Table, InboundMessage.__table__)


def _claim_statement(insert: Any) -> Any:
    return (
        insert(_TABLE)
        .values(
            channel=bindparam("channel"),
            provider_id=bindparam("provider_id"),
            sender=bindparam("sender"),
            text=bindparam("text"),
            reply="",
            status="silent",
            received_at=bindparam("received_at"),
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


def _claim(connection: Connection, message: Message) -> int | None:
    """Insert the inbound row; None when another delivery of the same id got there first.

    On PostgreSQL the same statement fetches the sender for the engine (a data-modifying
    CTE runs exactly once, and the insert still waits on a twin's uncommitted row).
    """
    values = {
        "channel": message.channel,
        "provider_id": message.provider_id,
        "sender": message.sender,
        "text": message.text,
        "received_at": message.received_at,
    }
    if connection.dialect.name == "postgresql" and engine.prefetches_sender(message):
        prefetch = engine.prefetch_for(message)
        params = {**values, **engine.sender_params(message, prefetch)}
        rows = _claim_with_sender(prefetch).rows(connection, params)
        if not rows:
            return None
        engine.known_sender(message, engine.sender_of(rows[0][1:], prefetch))
        return int(rows[0][0])
    row_id = _CLAIM[connection.dialect.name].scalar(connection, values)
    return None if row_id is None else int(row_id)


def _replay(message: Message) -> InboundResult:
    row = db.session.scalars(
        select(InboundMessage).where(
            InboundMessage.channel == message.channel,
            InboundMessage.provider_id == message.provider_id,
        )
    ).one()
    log.info(
        "%s from %s: replay of %s", message.channel, mask_phone(message.sender), row.provider_id
    )
    return InboundResult(
        reply=row.reply,
        language=row.reply_language,
        command=row.command,
        silent=row.status == "silent",
        replayed=True,
    )
