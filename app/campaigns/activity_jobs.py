"""Campaigns' scheduled jobs for club activities and win-back (registered in
``app.campaigns.init_app``; see ``app.jobs``).

Both are safe to run twice: a rating request is sent once per sign-up
(``rating_requested_at``, and its outbox key), a win-back message once per member per
``WINBACK_IDLE_DAYS`` (the ``winback_message`` rows, and the outbox key of member and day).
"""

from __future__ import annotations

import datetime as dt

from app.campaigns.activities import request_ratings, send_winback
from app.i18n import N_
from app.jobs import Job


def activity_rating_requests(as_of: dt.date, run_key: str) -> dict[str, int]:
    return {"requests": request_ratings()}


def winback_messages(as_of: dt.date, run_key: str) -> dict[str, int]:
    return send_winback(as_of, run_key)


JOBS = (
    Job(
        "activity_rating_requests",
        activity_rating_requests,
        N_("Ask members who attended an activity that has ended for a rating (1-5)"),
        every_minutes=30,
    ),
    Job(
        "winback_messages",
        winback_messages,
        N_("Send one win-back message to members idle for WINBACK_IDLE_DAYS"),
        at="11:00",
    ),
)
