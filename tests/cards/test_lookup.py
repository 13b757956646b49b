"""``card_by_number`` builds the same objects an ORM query loads, on both databases."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import event, inspect, select
from sqlalchemy.orm import joinedload

from app.cards.lookup import card_by_number, card_from_row, holder_by_number
from app.cards.models import Card
from app.cards.services import find_card
from app.db import db
from app.members.models import Member


def _columns(obj: Any) -> dict[str, Any]:
    return {a.key: getattr(obj, a.key) for a in inspect(type(obj)).column_attrs}


def _as_loaded_by_the_orm(card_id: int) -> tuple[dict[str, Any], ...]:
    """The card, member and level columns as an ORM query with eager loads reads them."""
    db.session.expunge_all()
    card = db.session.scalar(
        select(Card)
        .options(joinedload(Card.member).joinedload(Member.level))
        .where(Card.id == card_id)
    )
    assert card is not None
    member = card.member
    read = (
        _columns(card),
        _columns(member) if member else {},
        _columns(member.level) if member and member.level else {},
    )
    db.session.expunge_all()
    return read


def test_every_column_reads_as_the_orm_reads_it(
    make_member: Any, make_level: Any, make_card: Any
) -> None:
    gold = make_level("Gold", rank=3, discount_bp=9500, points_multiplier_bp=15000)
    member = make_member(name="林小红")
    member.level = gold
    member.tags = ["tea", "noodles"]
    member.answers = {"favourite_dish": "红烧肉"}
    member.birthday_calendar, member.birthday_month, member.birthday_day = "lunar", 8, 15
    card = make_card(
        "period",
        member=member,
        pin="2468",
        valid_from=dt.date(2026, 1, 1),
        valid_until=dt.date(2027, 6, 30),
    )
    db.session.flush()
    expected = _as_loaded_by_the_orm(card.id)

    found = card_by_number(card.number)

    assert found is not None
    assert (_columns(found), _columns(found.member), _columns(found.member.level)) == expected
    assert found.valid_until == dt.date(2027, 6, 30)
    assert found.issued_at.tzinfo is not None
    assert found.member.tags == ["tea", "noodles"]
    assert found.is_primary is False and found.rechargeable is True


def test_an_anonymous_card_and_a_member_without_a_level(make_member: Any, make_card: Any) -> None:
    gift = make_card("gift")
    member = make_member()
    member.level = None
    db.session.flush()
    number = db.session.scalars(select(Card.number).where(Card.member_id == member.id)).one()
    db.session.expunge_all()

    anonymous = card_by_number(gift.number)
    assert anonymous is not None and anonymous.member is None
    held = card_by_number(number)
    assert held is not None and held.member.id == member.id and held.member.level is None
    assert card_by_number("6200000000000000000") is None


def test_the_objects_are_the_sessions_own_and_changes_are_written(
    make_member: Any, make_level: Any
) -> None:
    member = make_member()
    level = make_level("Silver", rank=1)
    member.level = level
    db.session.flush()
    card = db.session.scalars(select(Card).where(Card.member_id == member.id)).one()
    number, card_id = card.number, card.id
    db.session.expunge_all()

    found = card_by_number(number)
    assert found is not None
    assert db.session.get(Card, card_id) is found  # in the identity map, no second load
    assert card_by_number(number) is found
    assert not db.session.dirty

    statements: list[str] = []
    event.listen(db.session.connection(), "before_cursor_execute", _collect(statements))
    _changes_are_written_and_the_rest_loads(found, card_id, statements)


def test_find_card_resolves_a_number_a_medium_and_a_phone(make_member: Any) -> None:
    member = make_member("+8613700001234")
    card = db.session.scalars(select(Card).where(Card.member_id == member.id)).one()
    db.session.expunge_all()
    assert find_card(card.number).id == card.id
    assert find_card("13700001234").id == card.id
    assert find_card("nonsense") is None


def _collect(into: list[str]) -> Any:
    def collect(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        into.append(statement)

    return collect


def _holder_rows(number: str) -> tuple[Any, Any]:
    """The statement piece's row as the driver gives it (raw cursor) and as SQLAlchemy does."""
    from app.db.prepared import Prepared

    piece = holder_by_number()
    stmt = select(*piece.subquery.c)
    raw = Prepared(stmt, fields=piece.fields).rows(db.connection(), {"number": number})
    typed = db.session.execute(stmt, {"number": number}).all()
    assert len(raw) == len(typed) == 1
    return raw[0], typed[0]


def test_the_statement_piece_builds_the_objects_the_orm_loads(
    make_member: Any, make_level: Any, make_card: Any
) -> None:
    gold = make_level("Gold", rank=3, discount_bp=9500, points_multiplier_bp=15000)
    member = make_member(name="林小红")
    member.level = gold
    member.tags = ["tea", "noodles"]
    member.answers = {"favourite_dish": "红烧肉"}
    card = make_card(
        "period",
        member=member,
        pin="2468",
        valid_from=dt.date(2026, 1, 1),
        valid_until=dt.date(2027, 6, 30),
    )
    card.pin_locked_until = dt.datetime(2026, 5, 1, 8, 30, tzinfo=dt.UTC)
    gift = make_card("gift")
    db.session.flush()
    expected = _as_loaded_by_the_orm(card.id)

    for driver_values, row in zip((True, False), _holder_rows(card.number), strict=True):
        db.session.expunge_all()
        found = card_from_row(row, driver_values=driver_values)
        assert (_columns(found), _columns(found.member), _columns(found.member.level)) == expected
        assert found.pin_locked_until == dt.datetime(2026, 5, 1, 8, 30, tzinfo=dt.UTC)
        assert found.member.tags == ["tea", "noodles"] and found.is_primary is False
        assert not db.session.dirty and not db.session.new

    db.session.expunge_all()
    anonymous = card_from_row(_holder_rows(gift.number)[0], driver_values=True)
    assert anonymous.member is None and anonymous.type == "gift"


def test_the_piece_gives_the_sessions_own_objects_and_changes_are_written(
    make_member: Any, make_level: Any
) -> None:
    member = make_member()
    member.level = make_level("Silver", rank=1)
    db.session.flush()
    card = db.session.scalars(select(Card).where(Card.member_id == member.id)).one()
    number, card_id, member_id = card.number, card.id, member.id
    db.session.expunge_all()

    found = card_from_row(_holder_rows(number)[0], driver_values=True)
    statements: list[str] = []
    event.listen(db.session.connection(), "before_cursor_execute", _collect(statements))
    # The holder and the level come from the identity map: no statement.
    assert db.session.get(Card, card_id) is found and found.member.level.name == "Silver"
    assert statements == []
    # An object the session already holds is the one returned.
    assert card_from_row(_holder_rows(number)[1], driver_values=False) is found
    _changes_are_written_and_the_rest_loads(found, card_id, statements)
    assert card_from_row(_holder_rows(number)[0], driver_values=True).member.id == member_id


def _changes_are_written_and_the_rest_loads(
    found: Card, card_id: int, statements: list[str]
) -> None:
    """The card and its holder are the session's own: changes to both are flushed, and
    what the read did not carry loads on first use, as a lazy relationship would."""
    found.pin_failures += 1
    found.member.name = "改了名"
    db.session.flush()
    assert any(s.startswith("UPDATE card SET pin_failures") for s in statements)
    assert any(s.startswith("UPDATE member SET name") for s in statements)
    db.session.expunge_all()
    again = db.session.get(Card, card_id)
    assert again.pin_failures == 1 and again.member.name == "改了名"
    assert again.member.home_store.code
