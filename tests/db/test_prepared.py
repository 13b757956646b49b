"""The ledger's statements on the raw cursor behave as SQLAlchemy's would, and with
``DB_PREPARED_STATEMENTS`` off they run through SQLAlchemy's own ``Connection.execute``."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import event, insert, select
from sqlalchemy.exc import IntegrityError, StatementError

from app.db import db
from app.db.prepared import Prepared, observed
from app.ledger.journal import credit_points
from app.ledger.rules.models import GrowthEntry, MemberGrowth

ENTRY = Prepared(insert(GrowthEntry.__table__).returning(GrowthEntry.__table__.c.id))
COUNTER = Prepared(insert(MemberGrowth.__table__))


@pytest.fixture(params=[True, False], ids=["prepared", "plain"])
def app_config(request: pytest.FixtureRequest) -> dict[str, Any]:
    return {"DB_PREPARED_STATEMENTS": request.param}


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
    # SQLAlchemy wraps its type's ValueError in a StatementError (the plain path).
    with pytest.raises((ValueError, StatementError), match="naive"):
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


def test_the_switch_chooses_the_raw_cursor_or_sqlalchemys_execute(
    app: Any, make_member: Any
) -> None:
    from app.cards.services import member_cards

    card = member_cards(make_member())[0]
    raw: list[str] = []
    executed: list[str] = []

    def collect(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        executed.append(statement)

    connection = db.session.connection()
    event.listen(connection, "before_cursor_execute", collect)
    try:
        with observed(raw.append):
            credit_points(card, 50, kind="gift", key="switch", expires_on=None)
    finally:
        event.remove(connection, "before_cursor_execute", collect)
    posting = [s for s in raw + executed if s.startswith("INSERT INTO ledger_transaction")]
    assert len(posting) == 1
    on = app.config["DB_PREPARED_STATEMENTS"]
    assert (posting[0] in raw) is on and (posting[0] in executed) is not on
