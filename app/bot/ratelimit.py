"""Messages per sender per window.

Storage comes from ``RATELIMIT_STORAGE_URI``: ``memory://`` counts in this
process (``LocalWindows``), any other URI (a Redis URL, when several web workers
must share the count) goes through the ``limits`` library. Over the limit a
sender gets one polite warning per window, then silence until it passes.
"""

from __future__ import annotations

import logging
import threading
import time
from enum import Enum
from typing import Protocol

from flask import Flask, current_app
from limits import RateLimitItem, parse
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter

log = logging.getLogger(__name__)


class Verdict(Enum):
    ALLOW = "allow"
    WARN = "warn"
    SILENCE = "silence"


class Windows(Protocol):
    def hit(self, item: RateLimitItem, *identifiers: str) -> bool: ...


class LocalWindows:
    """Fixed windows in this process, the semantics of ``limits``' memory storage.

    A window starts at a key's first hit and lasts the item's expiry. ``limits``'
    own memory storage starts a timer thread to expire keys on nearly every hit,
    which on the webhook's hot path costs more than the rest of the filter chain;
    here expired keys are swept at most once a second, under the same lock.
    """

    #: Sweep expired windows at most this often.
    SWEEP_EVERY_S = 1.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        #: key -> [window end (monotonic seconds), hits]
        self._windows: dict[str, list[float]] = {}
        self._next_sweep = 0.0

    def hit(self, item: RateLimitItem, *identifiers: str) -> bool:
        key = item.key_for(*identifiers)
        now = time.monotonic()
        with self._lock:
            if now >= self._next_sweep:
                self._sweep(now)
            window = self._windows.get(key)
            if window is None or window[0] <= now:
                window = self._windows[key] = [now + item.get_expiry(), 0]
            window[1] += 1
            return window[1] <= item.amount

    def __len__(self) -> int:
        """Windows kept (expired ones linger until the next sweep)."""
        return len(self._windows)

    def _sweep(self, now: float) -> None:
        self._next_sweep = now + self.SWEEP_EVERY_S
        expired = [key for key, (end, _hits) in self._windows.items() if end <= now]
        for key in expired:
            del self._windows[key]


class SenderLimiter:
    def __init__(self, storage_uri: str, limit: str) -> None:
        self.limiter: Windows = (
            LocalWindows()
            if storage_uri.startswith("memory://")
            else FixedWindowRateLimiter(storage_from_string(storage_uri))
        )
        self.item: RateLimitItem = parse(limit)
        # One warning per window of the same length.
        self.warning = type(self.item)(1, self.item.multiples)

    def check(self, key: str) -> Verdict:
        try:
            if self.limiter.hit(self.item, "bot", key):
                return Verdict.ALLOW
            if self.limiter.hit(self.warning, "bot-warned", key):
                return Verdict.WARN
            return Verdict.SILENCE
        except Exception:
            # A rate-limit store that is down must not stop members reaching us.
            log.exception("rate limit storage failed; letting the message through")
            return Verdict.ALLOW


def limiter_for(app: Flask | None = None) -> SenderLimiter:
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    limiter = app.extensions.get("laoyou.bot.limiter")
    if limiter is None:
        limiter = SenderLimiter(app.config["RATELIMIT_STORAGE_URI"], app.config["BOT_RATE_LIMIT"])
        app.extensions["laoyou.bot.limiter"] = limiter
    return limiter
