"""The ledger with ``DB_PREPARED_STATEMENTS`` off: its statements through SQLAlchemy's own
``Connection.execute``, so CI runs the plain path as well as the raw-cursor one.

The key ledger modules' tests, collected here again with this module's ``app_config``.
"""

from __future__ import annotations

from typing import Any

import pytest
import test_api_ledger
import test_checkout_card
import test_concurrency_ledger
import test_journal
import test_operations


@pytest.fixture
def app_config() -> dict[str, Any]:
    return {"DB_PREPARED_STATEMENTS": False}


@pytest.fixture(autouse=True)
def _plain(app_config: dict[str, Any]) -> None:
    assert app_config["DB_PREPARED_STATEMENTS"] is False


for _module in (
    test_api_ledger,
    test_checkout_card,
    test_concurrency_ledger,
    test_journal,
    test_operations,
):
    for _name, _test in vars(_module).items():
        if _name.startswith("test_") and callable(_test):
            globals()[f"{_name}"] = _test
