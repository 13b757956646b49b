"""Messages per sender per window, with the ``limits`` library.

Storage comes from ``RATELIMIT_STORAGE_URI``: ``memory://`` for one process,
a Redis URL when several web workers must share the count. Over the limit a
sender gets one polite warning per window, then silence until it passes.
"""

from __future__ import annotations

import logging
from enum import Enum

from flask import Flask, current_app
from limits import RateLimitItem, parse
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter

log = logging.getLogger(__name__)


class Verdict(Enum):
    ALLOW = "allow"
    WARN = "warn"
    SILENCE = "silence"


class SenderLimiter:
    def __init__(self, storage_uri: str, limit: str) -> None:
        self.limiter = FixedWindowRateLimiter(storage_from_string(storage_uri))
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
