"""``laoyou member show REF``."""

from __future__ import annotations

from app.cards.services import find_card
from app.db import db


def test_member_show_by_phone_card_or_medium(runner, make_member, make_level):
    make_level("金卡", rank=1)
    member = make_member(
        "13800138000",
        name="王小明",
        birthday="1990-05-12",
        birthday_calendar="lunar",
        lunar_leap_month=True,
        tags=["咖啡"],
    )
    card = find_card(member.phone)
    db.session.commit()

    by_phone = runner.invoke(args=["member", "show", "+86 138 0013 8000"])
    by_card = runner.invoke(args=["member", "show", card.number])

    assert by_phone.exit_code == 0, by_phone.output
    assert by_phone.output == by_card.output
    lines = by_phone.output.splitlines()
    assert lines[0] == f"member {member.id}: 王小明  +8613800138000  level 金卡"
    assert "birthday: 1990-05-12 (lunar, leap month)" in lines
    assert "tags: 咖啡" in lines
    assert lines[-1].split() == [card.number, "stored_value", "active", "primary"]


def test_member_show_unknown_ref_fails_cleanly(runner):
    result = runner.invoke(args=["member", "show", "13900000000"])

    assert result.exit_code == 1
    assert "no member or card matches '13900000000'" in result.output
