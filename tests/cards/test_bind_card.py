"""``cards.services.bind_card``: an anonymous card joins a membership, with its history row."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskCliRunner

from app.cards.services import bind_card, card_history, change_state
from app.db import db
from app.errors import CardNotActive, InvalidRequest

PHONE = "+8613800138000"


def _history(runner: FlaskCliRunner, number: str) -> list[str]:
    """What ``laoyou cards show`` lists under history: one line per event."""
    db.session.commit()
    result = runner.invoke(args=["cards", "show", number])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    return lines[lines.index("history:") + 1 :]


def test_a_bound_card_shows_its_holder_and_the_bind_in_its_history(
    runner: FlaskCliRunner, make_member: Callable[..., Any], make_card: Callable[..., Any]
) -> None:
    member = make_member(PHONE, name="王小明")
    gift = make_card("gift")
    bind_card(gift, member, actor="sms:member:7", reason="bound to member 7 by text")
    shown = runner.invoke(args=["cards", "show", gift.number])
    assert f"holder: 王小明 {PHONE}" in shown.output
    issue, bind = _history(runner, gift.number)
    assert issue.split()[2] == "issue" and bind.split()[2] == "bind"
    assert bind.endswith("active → active  sms:member:7  bound to member 7 by text")


def test_without_a_reason_the_event_names_the_member(
    app: Any, make_member: Callable[..., Any], make_card: Callable[..., Any]
) -> None:
    member = make_member(PHONE)
    gift = make_card("gift")
    bind_card(gift, member)
    [_, event] = card_history(gift)
    assert (event.action, event.actor, event.reason) == (
        "bind",
        None,
        f"bound to member {member.id}",
    )


def test_a_held_card_is_not_bound_again(
    app: Any, make_member: Callable[..., Any], make_card: Callable[..., Any]
) -> None:
    owner, other = make_member(PHONE), make_member("+8613900139000")
    card = make_card("gift", member=owner)
    with pytest.raises(InvalidRequest) as refused:
        bind_card(card, other)
    assert (str(refused.value), refused.value.details) == (
        "this card already belongs to a member",
        {"field": "card"},
    )
    assert card.member_id == owner.id
    assert [e.action for e in card_history(card)] == ["issue"]


def test_a_card_that_is_not_active_is_not_bound(
    app: Any, make_member: Callable[..., Any], make_card: Callable[..., Any]
) -> None:
    member = make_member(PHONE)
    gift = make_card("gift")
    change_state(gift, "freeze")
    with pytest.raises(CardNotActive) as refused:
        bind_card(gift, member)
    assert refused.value.details == {"state": "frozen"}
    assert gift.member_id is None
    assert [e.action for e in card_history(gift)] == ["issue", "freeze"]
