"""Cards' scheduled job (registered in ``app.cards.init_app``; see ``app.jobs``)."""

from __future__ import annotations

import datetime as dt

from flask import current_app

from app.cards.validity import remind_validity_ending
from app.i18n import N_
from app.jobs import Job


def card_validity_reminders(as_of: dt.date, run_key: str) -> dict[str, int]:
    days = int(current_app.config["CARD_EXPIRY_REMINDER_DAYS"])
    return {"cards": remind_validity_ending(as_of, days=days), "days_ahead": days}


JOBS = (
    Job(
        "card_validity_reminders",
        card_validity_reminders,
        N_(
            "Remind members whose card (a period, membership or gift card) ends within "
            "CARD_EXPIRY_REMINDER_DAYS"
        ),
        at="10:05",
    ),
)
