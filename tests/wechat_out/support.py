"""Shared by the WeChat API tests: settings and the fake WeChat API on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from app.messaging.providers.wechat_fake import FakeWechatApi

APP_ID = "wx0123456789abcdef"
APP_SECRET = "test-app-secret-0123456789abcdef"
OPENID = "oLaoyou0Test0Openid0000000001"
TEMPLATE_TRANSACTION = "tpl-transaction-0001"


def wechat_settings(base_url: str, **extra: Any) -> dict[str, Any]:
    return {
        "WECHAT_PROVIDER": "api",
        "WECHAT_APP_ID": APP_ID,
        "WECHAT_APP_SECRET": APP_SECRET,
        "WECHAT_API_BASE_URL": base_url,
        "WECHAT_API_TIMEOUT_SECONDS": 1,
        "WECHAT_TEMPLATE_TRANSACTION": TEMPLATE_TRANSACTION,
        **extra,
    }


@pytest.fixture
def fake_wechat() -> Iterator[FakeWechatApi]:
    fake = FakeWechatApi(APP_ID, APP_SECRET).start()
    try:
        yield fake
    finally:
        fake.stop()
