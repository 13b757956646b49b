"""Inbound messages with ``DB_PREPARED_STATEMENTS`` off: the answer's hot statements (the
sender's profile, the points summary, the claim) through SQLAlchemy's own
``Connection.execute``, so CI runs the plain path as well as the raw-cursor one.

``tests/sms/test_inbound_once.py``'s tests, collected here again with this module's
``app_config`` (``tests/messaging/test_prepared_path.py`` tells the two paths apart).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.sms import test_inbound_once
from tests.sms.support import twilio_settings
from tests.sms.test_inbound_once import engine_runs, reply_first

__all__ = ["engine_runs", "reply_first"]


@pytest.fixture
def app_config(reply_first: bool) -> dict[str, Any]:
    return twilio_settings(INBOUND_REPLY_FIRST=reply_first, DB_PREPARED_STATEMENTS=False)


for _name, _test in vars(test_inbound_once).items():
    if _name.startswith("test_") and callable(_test):
        globals()[_name] = _test
