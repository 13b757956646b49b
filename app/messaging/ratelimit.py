"""A rate limit per sender number shared by every dispatcher, kept in the database.

A token bucket of depth one in its "virtual scheduling" form (GCRA): each
sender row holds the earliest moment the next message may leave. Reserving a
slot is one locked read-modify-write, so two dispatchers on two hosts still
send at most ``SMS_RATE_PER_SECOND`` messages per second from one number.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app import clock
from app.db import db
from app.messaging.models import SenderSlot


def reserve_slot(sender: str, rate_per_second: int) -> dt.datetime:
    """Reserve the next send slot for ``sender`` and return when it begins.

    Flushes only; the caller commits at once so other dispatchers see the reservation.
    """
    now = clock.now()
    interval = dt.timedelta(seconds=1 / rate_per_second)
    row = db.session.scalar(select(SenderSlot).where(SenderSlot.sender == sender).with_for_update())
    if row is None:
        try:
            with db.session.begin_nested():
                db.session.add(SenderSlot(sender=sender, next_at=now + interval))
            return now
        except IntegrityError:
            # Another dispatcher created it first; take its lock like everyone else.
            row = db.session.scalars(
                select(SenderSlot).where(SenderSlot.sender == sender).with_for_update()
            ).one()
    slot = max(row.next_at, now)
    row.next_at = slot + interval
    db.session.flush()
    return slot
