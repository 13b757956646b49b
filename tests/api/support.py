"""Constants the API tests share."""

from __future__ import annotations

import datetime as dt

#: The instant ``fixed_now`` freezes, and how the API writes it.
NOW = dt.datetime(2026, 3, 1, 2, 30, tzinfo=dt.UTC)
NOW_JSON = "2026-03-01T02:30:00+00:00"
