"""The in-process rate-limit windows (``memory://``): counts, expiry, and the sweep."""

from __future__ import annotations

import pytest
from limits import parse

from app.bot import ratelimit
from app.bot.ratelimit import LocalWindows, SenderLimiter, Verdict


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(ratelimit.time, "monotonic", fake)
    return fake


def test_a_window_allows_its_amount_then_refuses_until_it_ends(clock: Clock) -> None:
    windows = LocalWindows()
    item = parse("3/minute")
    assert [windows.hit(item, "bot", "a") for _ in range(4)] == [True, True, True, False]
    assert windows.hit(item, "bot", "b")  # another key has its own window
    clock.now += 59.9
    assert not windows.hit(item, "bot", "a")
    clock.now += 0.2  # the window began at the first hit and lasts a minute
    assert windows.hit(item, "bot", "a")


def test_expired_windows_are_swept(clock: Clock) -> None:
    windows = LocalWindows()
    item = parse("1/second")
    for n in range(100):
        windows.hit(item, "bot", f"sender{n}")
    assert len(windows) == 100
    clock.now += 5
    windows.hit(item, "bot", "late")
    assert len(windows) == 1


def test_sender_limiter_warns_once_per_window_then_silences(clock: Clock) -> None:
    limiter = SenderLimiter("memory://", "2/minute")
    verdicts = [limiter.check("sms:+8613800138000") for _ in range(5)]
    assert verdicts == [
        Verdict.ALLOW,
        Verdict.ALLOW,
        Verdict.WARN,
        Verdict.SILENCE,
        Verdict.SILENCE,
    ]
    clock.now += 61
    assert limiter.check("sms:+8613800138000") is Verdict.ALLOW
