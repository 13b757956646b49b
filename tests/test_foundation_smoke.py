import pytest

from app.cards.numbers import luhn_valid
from app.cards.services import find_card, replace_card, resolve_member, verify_pin
from app.errors import PinLocked, WrongPin


def test_member_gets_primary_card_and_phone_resolves(make_member):
    member = make_member("13800138000", name="王小明")
    assert member.phone == "+8613800138000"
    card = find_card("+86 138 0013 8000")
    assert card is not None and card.is_primary and luhn_valid(card.number)
    assert resolve_member(card.number).id == member.id
    assert resolve_member("008613800138000").id == member.id


def test_replaced_number_stops_working(make_member):
    member = make_member("13800138001")
    old = find_card(member.phone)
    new = replace_card(old)
    assert find_card(old.number) is None
    assert find_card(member.phone).id == new.id


def test_wrong_pin_locks(make_card):
    card = make_card("gift", pin="1234")
    for _ in range(4):
        with pytest.raises(WrongPin):
            verify_pin(card, "0000")
    with pytest.raises(PinLocked):
        verify_pin(card, "0000")
    with pytest.raises(PinLocked):
        verify_pin(card, "1234")
