"""Registration: ``cards.services.enroll`` makes the member and their first card;
``members.services.create_member`` makes only the member (members know nothing of cards)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from app.cards.models import Card
from app.cards.services import add_medium, enroll, find_card, member_cards
from app.db import db
from app.errors import InvalidRequest
from app.members.models import Member
from app.members.services import create_member
from app.signals import member_joined

PHONE = "+8613800138000"


@pytest.fixture
def joined(app: Any) -> Any:
    """Every ``member_joined`` sent during the test, as (member, card)."""
    seen: list[tuple[Member, Card | None]] = []

    def receive(member: Member, card: Card | None = None, **_: Any) -> None:
        seen.append((member, card))

    with member_joined.connected_to(receive):
        yield seen


def test_enroll_makes_the_member_a_primary_card_found_by_the_phone(
    make_store: Callable[..., Any], joined: list[Any]
) -> None:
    make_store("SH01")
    member = enroll({"phone": "138 0013 8000", "home_store": "SH01"}, card_type="points")
    [card] = member_cards(member)
    assert (card.type, card.state, card.is_primary) == ("points", "active", True)
    assert card.issued_store.code == "SH01"
    assert find_card("13800138000") is card
    assert joined == [(member, card)]


def test_create_member_alone_makes_no_card_and_no_welcome(
    make_store: Callable[..., Any], joined: list[Any]
) -> None:
    make_store("SH01")
    member = create_member({"phone": PHONE, "home_store": "SH01"})
    assert member.id is not None
    assert member_cards(member) == []
    assert joined == []


def test_a_bad_card_type_refuses_the_enrolment(
    make_store: Callable[..., Any], joined: list[Any]
) -> None:
    make_store("SH01")
    with pytest.raises(InvalidRequest) as refused:
        enroll({"phone": PHONE, "home_store": "SH01"}, card_type="platinum")
    assert refused.value.details == {"field": "type"}
    assert joined == []


def test_a_referrer_is_named_by_phone_card_number_or_medium(
    make_member: Callable[..., Any],
) -> None:
    referrer = make_member("+8613900139000")
    card = member_cards(referrer)[0]
    add_medium(card, "barcode", "BC-0001")
    for n, ref in enumerate(["139 0013 9000", card.number, "BC-0001"]):
        member = enroll({"phone": f"+86137001370{n:02d}", "home_store": "SH01", "referrer": ref})
        assert member.referrer is referrer
    assert db.session.scalar(select(func.count()).select_from(Member)) == 4


def test_members_alone_read_a_referrer_by_phone_only(make_member: Callable[..., Any]) -> None:
    referrer = make_member("+8613900139000")
    number = member_cards(referrer)[0].number
    with pytest.raises(InvalidRequest, match="no member matches referrer"):
        create_member({"phone": PHONE, "home_store": "SH01", "referrer": number})
    member = create_member({"phone": PHONE, "home_store": "SH01", "referrer": "13900139000"})
    assert member.referrer is referrer


def test_a_period_card_sold_just_after_midnight_in_the_shop_starts_that_day(
    make_member: Callable[..., Any],
) -> None:
    """00:30 in Shanghai is 16:30 UTC the day before: the month runs from the shop's day."""
    from app.cards.services import issue_card
    from app.clock import frozen

    member = make_member(PHONE)
    with frozen(dt.datetime(2026, 12, 7, 16, 30, tzinfo=dt.UTC)):
        card = issue_card("period", member=member, period="month")
    assert (card.valid_from, card.valid_until) == (dt.date(2026, 12, 8), dt.date(2027, 1, 7))


def test_a_birthday_today_in_the_shop_is_not_in_the_future(
    make_store: Callable[..., Any],
) -> None:
    """At 00:30 in Shanghai (16:30 UTC the day before) a baby born that day may join."""
    from app.clock import frozen

    make_store("SH01")
    with frozen(dt.datetime(2026, 12, 7, 16, 30, tzinfo=dt.UTC)):
        member = create_member({"phone": PHONE, "home_store": "SH01", "birthday": "2026-12-08"})
        assert (member.birthday_month, member.birthday_day) == (12, 8)
        with pytest.raises(InvalidRequest, match="in the future"):
            create_member(
                {"phone": "+8613800138001", "home_store": "SH01", "birthday": "2026-12-09"}
            )
