"""A value read from the database, kept by each process for a few seconds.

For what nearly every request reads and staff change rarely (the texts' overrides, the
promotions in force): a read per request would be a statement on the hot path. A change
made in this process drops its copy at once (``drop``); other processes see it when
their copy is older than its ``seconds``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from flask import current_app

T = TypeVar("T")


def kept(name: str, seconds: float, load: Callable[[], T]) -> T:
    """``load()``'s value, read again when this app's copy is older than ``seconds``."""
    now = time.monotonic()
    found: tuple[float, Any] | None = current_app.extensions.get(name)
    if found is None or now - found[0] > seconds:
        found = current_app.extensions[name] = (now, load())
    value: T = found[1]
    return value


def drop(name: str) -> None:
    """Forget this app's copy: the next ``kept`` reads it again."""
    current_app.extensions.pop(name, None)
