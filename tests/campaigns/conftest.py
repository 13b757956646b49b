from __future__ import annotations

from typing import Any

import pytest

from tests.bot.conftest import bot  # noqa: F401  (the phone harness)


@pytest.fixture
def app_config() -> dict[str, Any]:
    return {"BOT_RAISE_ERRORS": True, "BOT_RATE_LIMIT": "1000/minute"}
