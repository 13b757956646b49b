from typing import Any

import pytest

from app.messaging.providers.wechat_fake import FakeWechatApi
from tests.wechat_out.support import fake_wechat, wechat_settings  # noqa: F401


@pytest.fixture
def app_config(fake_wechat: FakeWechatApi) -> dict[str, Any]:  # noqa: F811
    return wechat_settings(fake_wechat.base_url)
