from __future__ import annotations

from typing import Any

import pytest

# The phone harness the campaign tests drive the engine with.
from tests.bot.conftest import bot  # noqa: F401


@pytest.fixture
def app_config() -> dict[str, Any]:
    return {"BOT_RAISE_ERRORS": True, "BOT_RATE_LIMIT": "1000/minute"}
