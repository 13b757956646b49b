"""The panel's scheduled job (registered in ``app.admin.init_app``; see ``app.jobs``)."""

from __future__ import annotations

import datetime as dt

from app import clock
from app.admin.once import purge_keys
from app.i18n import N_
from app.jobs import Job

#: One-time form keys older than this are deleted; a form is not sent twice a day apart.
KEEP_FORM_KEYS_DAYS = 2


def form_key_purge(as_of: dt.date, run_key: str) -> dict[str, int]:
    before = dt.datetime.combine(
        as_of - dt.timedelta(days=KEEP_FORM_KEYS_DAYS), dt.time(), clock.zone()
    )
    return {"form_keys": purge_keys(before)}


JOBS = (
    Job(
        "form_key_purge",
        form_key_purge,
        N_("Delete the panel's one-time form keys older than two days"),
        at="04:40",
    ),
)
