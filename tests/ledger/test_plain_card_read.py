"""Checkout with ``LEDGER_FUSED_CARD_READ`` off: the card found through ``app.cards``' own
query, then the ledger's locking read (the plain path), so CI runs it as well as the fused one.

The checkout tests (by number, medium and phone; over the API and below it), collected
here again with this module's ``app_config``.
"""

from __future__ import annotations

from typing import Any

import pytest
import test_api_ledger
import test_checkout_card


@pytest.fixture
def app_config() -> dict[str, Any]:
    return {"LEDGER_FUSED_CARD_READ": False}


@pytest.fixture(autouse=True)
def _plain(app_config: dict[str, Any]) -> None:
    assert app_config["LEDGER_FUSED_CARD_READ"] is False


for _module in (test_api_ledger, test_checkout_card):
    for _name, _test in vars(_module).items():
        if _name.startswith("test_") and callable(_test):
            globals()[f"{_name}"] = _test
