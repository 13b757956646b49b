"""The one source of "now", in UTC and in the programme's local time zone.

Rules that depend on the calendar (member days, quiet hours, birthdays,
expiry) read the time here, so tests can fix it with ``frozen(...)``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from zoneinfo import ZoneInfo

from flask.globals import _cv_app

_fixed: dt.datetime | None = None


def now() -> dt.datetime:
    """Aware UTC now (or the frozen instant)."""
    return _fixed if _fixed is not None else dt.datetime.now(dt.UTC)


def zone() -> ZoneInfo:
    app_ctx = _cv_app.get(None)  # not the proxies: a checkout asks four times
    return _zone(app_ctx.app.config["TIMEZONE"] if app_ctx is not None else "Asia/Shanghai")


@lru_cache(maxsize=16)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local_now() -> dt.datetime:
    return now().astimezone(zone())


def local_today() -> dt.date:
    return local_now().date()


def to_local(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(zone())


@contextmanager
def frozen(moment: dt.datetime) -> Iterator[None]:
    """Tests: every ``now()`` inside returns ``moment`` (must be aware)."""
    global _fixed
    if moment.tzinfo is None:
        raise ValueError("frozen() needs an aware datetime")
    previous, _fixed = _fixed, moment.astimezone(dt.UTC)
    try:
        yield
    finally:
        _fixed = previous
