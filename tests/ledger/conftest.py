"""Fixtures of the ledger tests: the rules of ledger_support.RULES, a member with a card."""

from __future__ import annotations

from typing import Any

import pytest
from ledger_support import RULES
from sqlalchemy import select

from app.db import db
from app.ledger.rules.io import import_rules
from app.members.models import Level


@pytest.fixture
def ledger_rules(app: Any, make_store: Any) -> dict[str, Any]:
    make_store("SH01")
    make_store("SH02", region="North")
    import_rules(RULES)
    return RULES


@pytest.fixture
def member_card(ledger_rules: Any, make_member: Any) -> Any:
    """Set up the rules; then make a member at a level with their first card: (member, card)."""
    from app.cards.services import member_cards

    def make(level: str | None = None, *, card_type: str = "stored_value", **fields: Any) -> Any:
        member = make_member(card_type=card_type, **fields)
        if level:
            member.level = db.session.scalar(select(Level).where(Level.name == level))
        db.session.flush()
        return member, member_cards(member)[0]

    return make
