from __future__ import annotations

from typing import Any

import pytest

# The phone harness, and the hook that compiles the catalogs the replies are asserted in.
from tests.bot.conftest import bot, pytest_configure  # noqa: F401


@pytest.fixture
def app_config() -> dict[str, Any]:
    return {"BOT_RAISE_ERRORS": True, "BOT_RATE_LIMIT": "1000/minute"}
