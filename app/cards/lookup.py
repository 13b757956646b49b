"""A card by number with its holder and the holder's level, in one statement.

Every posting starts here (checkout, recharge, redemption at the counter), so
the card is read by one prepared statement rather than an ORM query with
joined eager loads: SQLAlchemy builds that query's row processors again on
every execution, which on SQLite cost more than the rest of the read. The row
becomes the same persistent objects the ORM would have loaded (identity map,
change tracking, lazy loading of whatever was not read), so callers cannot tell
the difference: a later ``card.pin_failures += 1`` or ``member.level = …`` is
flushed as usual (tests/cards/test_lookup.py holds it to that).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Dialect, bindparam, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import instance_state

from app.cards.models import Card
from app.db import db
from app.ledger.prepared import Prepared
from app.members.models import Level, Member

_card, _member, _level = Card.__table__, Member.__table__, Level.__table__


def _columns(cls: type[Any]) -> list[tuple[str, Any]]:
    """(attribute key, column) for every column attribute of ``cls``."""
    return [(attr.key, attr.columns[0]) for attr in cls.__mapper__.column_attrs]


_CARD, _MEMBER, _LEVEL = _columns(Card), _columns(Member), _columns(Level)
#: The columns a card with its holder and level is built from (``card_from_row``), for
#: statements that read the card beside something else (the ledger's checkout lock).
HOLDER_COLUMNS = (
    *(c.label(f"c_{k}") for k, c in _CARD),
    *(c.label(f"m_{k}") for k, c in _MEMBER),
    *(c.label(f"l_{k}") for k, c in _LEVEL),
)
#: The card with its holder and level: ``HOLDER_COLUMNS`` select from this.
HOLDER_JOIN = _card.outerjoin(_member, _card.c.member_id == _member.c.id).outerjoin(
    _level, _member.c.level_id == _level.c.id
)
_BY_NUMBER = Prepared(
    select(*HOLDER_COLUMNS).select_from(HOLDER_JOIN).where(_card.c.number == bindparam("number"))
)
#: Per dialect: (position, result processor) of the ``HOLDER_COLUMNS`` that have one.
_PROCESSORS: dict[str, tuple[tuple[int, Any], ...]] = {}


def _persistent(session: Session, cls: type[Any], values: dict[str, Any]) -> Any:
    """The session's object for this row: the one it holds, or a new one as if loaded."""
    mapper = cls.__mapper__
    key = mapper.identity_key_from_primary_key((values["id"],))
    found = session.identity_map.get(key)
    if found is not None:
        return found
    obj = mapper.class_manager.new_instance()
    obj.__dict__.update(values)
    # What SQLAlchemy's own loading does with a new row (orm.loading._instance_processor):
    # a fifth of the public make_transient_to_detached + Session.add, which walk the
    # cascades. Private API; tests/cards/test_lookup.py fails if its meaning changes.
    state = instance_state(obj)
    state.key = key
    state.identity_token = None
    state.session_id = session.hash_key
    session.identity_map._add_unpresent(state, key)
    return obj


def card_by_number(number: str) -> Card | None:
    """The card with this number, its ``member`` and the member's ``level`` already loaded."""
    rows = _BY_NUMBER.rows(db.connection(), {"number": number})
    return card_from_row(rows[0]) if rows else None


def card_from_row(row: Sequence[Any]) -> Card:
    """The session's card (with holder and level) from a row that starts with
    ``HOLDER_COLUMNS``, as a prepared statement returns it (the driver's values).

    The columns' SQLAlchemy result processors (booleans, dates, aware datetimes,
    JSON) are applied here, to this one row: a statement that repeats the card on
    several rows (one per account) pays for them once.
    """
    session = db.session()
    values = list(row[: len(HOLDER_COLUMNS)])
    for i, process in _processors(db.connection().dialect):
        if values[i] is not None:
            values[i] = process(values[i])
    n_card, n_member = len(_CARD), len(_MEMBER)
    card_values = {k: values[i] for i, (k, _) in enumerate(_CARD)}
    member: Member | None = None
    if card_values["member_id"] is not None:
        member_values = {k: values[n_card + i] for i, (k, _) in enumerate(_MEMBER)}
        level: Level | None = None
        if member_values["level_id"] is not None:
            offset = n_card + n_member
            level_values = {k: values[offset + i] for i, (k, _) in enumerate(_LEVEL)}
            level = _persistent(session, Level, level_values)
        member_values["level"] = level
        member = _persistent(session, Member, member_values)
    card_values["member"] = member
    return _persistent(session, Card, card_values)


def _processors(dialect: Dialect) -> tuple[tuple[int, Any], ...]:
    found = _PROCESSORS.get(dialect.name)
    if found is None:
        every = (
            column.type.dialect_impl(dialect).result_processor(dialect, None)
            for column in HOLDER_COLUMNS
        )
        found = _PROCESSORS[dialect.name] = tuple(
            (i, process) for i, process in enumerate(every) if process is not None
        )
    return found
