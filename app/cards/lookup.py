"""A card by number with its holder and the holder's level, in one query.

Every posting starts here (checkout, recharge, redemption at the counter) and
every caller reads ``card.member``: a plain ORM query with joined eager loads
brings all three in one round trip, as the session's own objects.

The one exception, behind ``LEDGER_FUSED_CARD_READ``: the ledger's checkout by
card number reads the card in its own locking statement, so a checkout is one
round trip. For that this module lends the statement piece (:func:`holder_by_number`,
a subquery of the card, its holder and level with named columns) and turns its
row back into the session's objects (:func:`card_from_row`), with public
SQLAlchemy API only: the same objects the ORM query above would give.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Dialect, Table, bindparam, select
from sqlalchemy.orm import joinedload, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key
from sqlalchemy.sql import Subquery

from app.cards.models import Card
from app.db import db
from app.members.models import Level, Member

#: Built once with a bound parameter: SQLAlchemy then finds it in its compiled cache.
_BY_NUMBER = (
    select(Card)
    .options(joinedload(Card.member).joinedload(Member.level))
    .where(Card.number == bindparam("number"))
)


def card_by_number(number: str) -> Card | None:
    """The card with this number, its ``member`` and the member's ``level`` already loaded."""
    return db.session.scalar(_BY_NUMBER, {"number": number})


# --- the statement piece for the ledger's fused checkout read -----------------------------

#: (class, prefix of its columns' names in the piece): ``c_number``, ``m_phone``, ``l_name``.
_PARTS: tuple[tuple[type[Any], str], ...] = ((Card, "c_"), (Member, "m_"), (Level, "l_"))
#: Per class: (attribute key, column name in the piece) of every column attribute.
_NAMES = {
    cls: tuple((a.key, prefix + a.key) for a in cls.__mapper__.column_attrs)
    for cls, prefix in _PARTS
}


@dataclass(frozen=True)
class HolderRead:
    """A statement piece: one row of the card, its holder and level, found by a parameter.

    Another statement selects ``fields`` from ``subquery`` and joins what it reads
    beside the card on ``subquery.c[card_id]``; :func:`card_from_row` turns its row
    (anything with those fields as attributes) into the session's objects.
    """

    subquery: Subquery
    fields: tuple[str, ...]
    card_id: str


def holder_by_number(param: str = "number") -> HolderRead:
    """The card whose number is the bound parameter ``param``, with its holder and level
    (outer joined: an anonymous card or a member without a level still gives its row)."""
    card, member, level = (cast(Table, cls.__table__) for cls, _ in _PARTS)
    columns = [
        cls.__mapper__.column_attrs[key].columns[0].label(name)
        for cls, _ in _PARTS
        for key, name in _NAMES[cls]
    ]
    stmt = (
        select(*columns)
        .select_from(
            card.outerjoin(member, card.c.member_id == member.c.id).outerjoin(
                level, member.c.level_id == level.c.id
            )
        )
        .where(card.c.number == bindparam(param))
    )
    fields = tuple(name for cls, _ in _PARTS for _, name in _NAMES[cls])
    return HolderRead(stmt.subquery("holder"), fields, "c_id")


#: Per dialect: (column name, result processor) of the piece's columns that have one.
_PROCESSORS: dict[str, tuple[tuple[str, Any], ...]] = {}


def _processors(dialect: Dialect) -> tuple[tuple[str, Any], ...]:
    found = _PROCESSORS.get(dialect.name)
    if found is None:
        pairs = []
        for cls, _ in _PARTS:
            for key, name in _NAMES[cls]:
                column = cls.__mapper__.column_attrs[key].columns[0]
                process = column.type.dialect_impl(dialect).result_processor(dialect, None)
                if process is not None:
                    pairs.append((name, process))
        found = _PROCESSORS[dialect.name] = tuple(pairs)
    return found


def card_from_row(row: Any, *, driver_values: bool) -> Card:
    """The session's card (and its holder and level) from a row with the fields of
    :func:`holder_by_number`.

    ``driver_values``: the row holds what the driver returned (a prepared statement on
    the raw cursor), so the columns' SQLAlchemy result processors (booleans, dates, aware
    datetimes, JSON) are applied here; otherwise SQLAlchemy already did. An object the
    session already holds is returned as it is, as an ORM query would; a new one is made
    persistent as loaded (``make_transient_to_detached`` then ``Session.add``: clean,
    nothing to flush), so changes to it are flushed and what the row did not carry (its
    other relationships) loads on first use. ``card.member`` and ``member.level`` are
    loaded already, as the joined loads of :func:`card_by_number` leave them.
    """
    values = {name: getattr(row, name) for cls, _ in _PARTS for _, name in _NAMES[cls]}
    if driver_values:
        for name, process in _processors(db.connection().dialect):
            if values[name] is not None:
                values[name] = process(values[name])
    member = None
    if values["m_id"] is not None:
        level = _persistent(Level, values) if values["l_id"] is not None else None
        member = _persistent(Member, values, level=level)
    return cast(Card, _persistent(Card, values, member=member))


def _persistent(cls: type[Any], values: dict[str, Any], **related: Any) -> Any:
    """The session's ``cls`` object of the row: the one it holds, or a new one as if loaded,
    with ``related`` as its loaded relationships (as joined loads set them: the session's
    identity map holds objects weakly, so the card must hold its holder, and the holder
    its level)."""
    session = db.session()
    names = _NAMES[cls]
    found = session.identity_map.get(identity_key(cls, values[dict(names)["id"]]))
    if found is not None:
        return found
    obj = cls()
    # As loaded, not as assigned: no change events or history to undo (cheaper too).
    for key, name in names:
        set_committed_value(obj, key, values[name])
    for key, value in related.items():
        set_committed_value(obj, key, value)
    make_transient_to_detached(obj)
    session.add(obj)
    return obj
