"""WeChat's commands with ``DB_PREPARED_STATEMENTS`` off: the bound member's profile, the
points summary and the claim through SQLAlchemy's own ``Connection.execute`` (the plain
path), in every mode. ``tests/wechat/test_commands.py``'s tests, collected again here with
this module's ``app_config``."""

from __future__ import annotations

from typing import Any

import pytest

from tests.wechat import test_commands
from tests.wechat.support import wechat_settings
from tests.wechat.test_commands import member, plain

__all__ = ["member", "plain"]


@pytest.fixture
def app_config() -> dict[str, Any]:
    return wechat_settings(
        BOT_RAISE_ERRORS=True, BOT_RATE_LIMIT="1000/minute", DB_PREPARED_STATEMENTS=False
    )


for _name, _test in vars(test_commands).items():
    if _name.startswith("test_") and callable(_test):
        globals()[_name] = _test
