"""The one source of "now", in UTC and in the programme's local time zone.

Rules that depend on the calendar (member days, quiet hours, birthdays,
expiry) read the time here, so tests can fix it with ``frozen(...)``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context

_fixed: dt.datetime | None = None


def now() -> dt.datetime:
    """Aware UTC now (or the frozen instant)."""
    return _fixed if _fixed is not None else dt.datetime.now(dt.UTC)


def zone() -> ZoneInfo:
    name = current_app.config["TIMEZONE"] if has_app_context() else "Asia/Shanghai"
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
