from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.wechat.support import MODES, WeChatServer, wechat_settings


@pytest.fixture
def app_config() -> dict[str, Any]:
    return wechat_settings(BOT_RAISE_ERRORS=True, BOT_RATE_LIMIT="1000/minute")


@pytest.fixture(params=MODES)
def wechat(request: pytest.FixtureRequest, client: FlaskClient) -> WeChatServer:
    """WeChat's servers posting to the webhook, once per mode: plain, compat, safe."""
    return WeChatServer(client, request.param)
