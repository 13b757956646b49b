"""The hot path's statements on the raw cursor behave as SQLAlchemy's would."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from app.db import db
from app.db.prepared import Prepared
from app.ledger.rules_models import GrowthEntry, MemberGrowth

ENTRY = Prepared(insert(GrowthEntry.__table__).returning(GrowthEntry.__table__.c.id))
COUNTER = Prepared(insert(MemberGrowth.__table__))


def test_values_are_stored_as_sqlalchemy_stores_them(app: Any, make_member: Any) -> None:
    member = make_member()
    shanghai = dt.timezone(dt.timedelta(hours=8))
    at = dt.datetime(2026, 11, 25, 8, 30, 15, 123456, tzinfo=shanghai)
    params = {
        "member_id": member.id,
        "delta": 7,
        "reason": "earn",
        "transaction_id": None,
        "review_on": dt.date(2026, 12, 31),
        "at": at,
    }
    [(entry_id,)] = ENTRY.rows(db.session.connection(), params)
    entry = db.session.scalar(select(GrowthEntry).where(GrowthEntry.id == entry_id))
    assert entry is not None
    assert (entry.delta, entry.review_on) == (7, dt.date(2026, 12, 31))
    assert entry.at == at and entry.at.tzinfo is not None


def test_a_naive_datetime_is_refused(app: Any, make_member: Any) -> None:
    """As ``UtcDateTime`` refuses it: PostgreSQL would read it in the server's zone."""
    member = make_member()
    with pytest.raises(ValueError, match="naive"):
        ENTRY.rows(
            db.session.connection(),
            {
                "member_id": member.id,
                "delta": 1,
                "reason": "earn",
                "transaction_id": None,
                "review_on": None,
                "at": dt.datetime(2026, 1, 1, 12, 0),
            },
        )


def test_a_violated_constraint_is_sqlalchemys_integrity_error(app: Any, make_member: Any) -> None:
    member = make_member()
    with pytest.raises(IntegrityError):
        COUNTER.rows(db.session.connection(), {"member_id": member.id, "growth": -1})
