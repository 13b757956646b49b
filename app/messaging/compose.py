"""What a message looks like on the phone, and when marketing may go out.

Decided at send time, not when queued: a broadcast queued at 20:55 still
waits out quiet hours, and a signature change applies to what is still queued.
"""

from __future__ import annotations

import datetime as dt

from flask import current_app

from app import clock
from app.db import db
from app.messaging.models import QuietHoursSetting

#: The unsubscribe line per language. Fixed strings, not prose: Chinese carriers
#: and Twilio's opt-out handling look for exactly these keywords.
UNSUBSCRIBE_LINES = {
    "zh-Hans": "回复TD退订",
    "zh-Hant": "回覆TD退訂",
    "en": "Reply STOP to opt out",
}


def render(kind: str, body: str, language: str, *, channel: str = "sms") -> str:
    """The exact text to send: marketing by SMS gets 【signature】 and the unsubscribe line.

    WeChat shows the official account's name on every message, and a follower stops
    them by unfollowing: neither line applies there.
    """
    if kind != "marketing" or channel == "wechat":
        return body
    signature = current_app.config["SMS_SIGNATURE"]
    head = f"【{signature}】" if signature and not body.startswith(f"【{signature}】") else ""
    line = UNSUBSCRIBE_LINES.get(language, UNSUBSCRIBE_LINES["zh-Hans"])
    separator = " " if language == "en" else ""
    return f"{head}{body.rstrip()}{separator}{line}"


def _hhmm(value: str) -> dt.time:
    hour, minute = value.split(":")
    return dt.time(int(hour), int(minute))


def quiet_hours() -> tuple[str, str] | None:
    """The quiet hours in force as ("21:00", "09:00"), or None when there are none.

    What the panel saved (``messaging.services.set_quiet_hours``) wins; until someone
    saves, the service's ``QUIET_HOURS_START`` / ``_END`` settings (equal: none).
    Read at every send, so a change holds the next message.
    """
    saved = db.session.get(QuietHoursSetting, 1)
    if saved is not None:
        if saved.start_hhmm is None or saved.end_hhmm is None:
            return None
        return saved.start_hhmm, saved.end_hhmm
    start, end = current_app.config["QUIET_HOURS_START"], current_app.config["QUIET_HOURS_END"]
    return None if _hhmm(start) == _hhmm(end) else (start, end)


def quiet_until(moment: dt.datetime | None = None) -> dt.datetime | None:
    """When quiet hours end if ``moment`` (default now) is inside them, else None.

    Quiet hours are local to the programme's TIMEZONE and may span midnight
    (21:00–09:00).
    """
    hours = quiet_hours()
    if hours is None:
        return None
    start, end = _hhmm(hours[0]), _hhmm(hours[1])
    local = clock.to_local(moment or clock.now())
    t = local.timetz().replace(tzinfo=None)
    if start < end:
        inside = start <= t < end
        end_day = local.date()
    else:
        inside = t >= start or t < end
        end_day = local.date() + dt.timedelta(days=1) if t >= start else local.date()
    if not inside:
        return None
    ends = dt.datetime.combine(end_day, end, tzinfo=clock.zone())
    return ends.astimezone(dt.UTC)
