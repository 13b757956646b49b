"""Receivers are wired by ``create_app`` (each package's ``init_app``), not by imports.

A scheduler or station process serves no API: replacing a card must still move its
balances, and a referred member's first purchase must still pay the referral bonus.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

import app as app_package
import app.api
from app import clock
from app.cards.services import member_cards, replace_card
from app.ledger import operations
from app.ledger.balances import card_balances
from app.ledger.rules import referral
from app.ledger.rules.io import import_rules
from app.signals import card_state_changed, member_joined
from app.stores.services import get_store
from tests.conftest import settings_for

EXAMPLE = Path(__file__).parents[1] / "docs" / "rules.example.json"
#: A Thursday without a member day: the example rules earn 1 point a yuan.
THURSDAY = dt.datetime(2026, 11, 26, 4, tzinfo=dt.UTC)


@pytest.fixture
def app_config(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A process built without the API, in which no earlier import left a receiver behind."""
    card_state_changed.disconnect(operations._on_card_state_changed)
    member_joined.disconnect(referral._on_member_joined)
    monkeypatch.setattr(app.api, "BLUEPRINT_MODULES", ())
    return {}


def test_without_the_api_a_replace_moves_balances_and_a_referral_pays(
    app: Flask, make_store: Any, make_member: Any
) -> None:
    served = {r.rule for r in app.url_map.iter_rules() if r.rule.startswith("/api/v1/")}
    assert served == {"/api/v1/openapi.json"}  # no API view in this process
    for code in ("SH01", "SH02", "BJ01"):
        make_store(code)
    import_rules(json.loads(EXAMPLE.read_text(encoding="utf-8")))
    referrer = make_member(card_type="points")
    friend = make_member(card_type="points", referrer=referrer.phone)
    card = member_cards(referrer)[0]
    assert card_balances(card.id).points == 100  # the sign-up gift
    with clock.frozen(THURSDAY):
        operations.checkout(
            member_cards(friend)[0], get_store("SH01"), 10000, "cash", key="b1", actor=None
        )
    assert card_balances(card.id).points == 300  # 100 sign-up + 200 referral

    new = replace_card(card)

    assert card_balances(new.id).points == 300
    assert card_balances(card.id).points == 0


def test_a_second_app_does_not_subscribe_twice(backend: dict[str, Any]) -> None:
    app_package.create_app(settings_for(backend))
    before = (len(card_state_changed.receivers), len(member_joined.receivers))
    app_package.create_app(settings_for(backend))
    assert (len(card_state_changed.receivers), len(member_joined.receivers)) == before
