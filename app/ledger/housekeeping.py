"""Purging what the ledger keeps only for a while: the API's Idempotency-Key records.

A record answers a retried request with the first response, byte for byte; a client
retries within minutes, so after ``PURGE_IDEMPOTENCY_AFTER_DAYS`` it only takes space.
A key used again after its record is gone is a new request; the journal's own keys
(unique, never purged) still refuse a second posting of the same transaction.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete

from app.db import db
from app.ledger.models import IdempotencyRecord


def purge_idempotency_records(before: dt.datetime) -> int:
    """Delete finished records created before ``before``; returns how many. Flushes."""
    result = db.session.execute(
        delete(IdempotencyRecord).where(
            IdempotencyRecord.created_at < before,
            # One still running has no status: its request holds it.
            IdempotencyRecord.status.is_not(None),
        )
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
