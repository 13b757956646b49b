"""Messaging's scheduled jobs (registered in ``app.messaging.init_app``; see ``app.jobs``),
and the SMS that tells the admins the nightly ledger check failed."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from flask import current_app

from app import clock
from app.i18n import N_, gettext, in_language
from app.jobs import Job
from app.messaging.services import enqueue, purge_inbound, requeue_abandoned
from app.phone import mask_phone, normalise_phone

log = logging.getLogger("laoyou.outbox")


def inbound_purge(as_of: dt.date, run_key: str) -> dict[str, int]:
    days = int(current_app.config["PURGE_INBOUND_AFTER_DAYS"])
    before = dt.datetime.combine(as_of - dt.timedelta(days=days), dt.time(), clock.zone())
    return {"messages": purge_inbound(before), "older_than_days": days}


def outbox_sweep(as_of: dt.date, run_key: str) -> dict[str, int]:
    requeued = requeue_abandoned(clock.now())
    if requeued:
        log.warning("outbox sweep: %s abandoned messages queued again", requeued)
    return {"requeued": requeued}


def admin_phones() -> list[str]:
    """``ADMIN_ALERT_PHONES`` in E.164 (checked at start-up)."""
    raw = str(current_app.config.get("ADMIN_ALERT_PHONES") or "")
    phones = (normalise_phone(p) for p in raw.split(",") if p.strip())
    return [p for p in phones if p is not None]


def on_ledger_check_failed(report: Any, *, run_key: str, problems: int, **_: Any) -> None:
    """One system SMS per admin phone per run, in the shop's language (sent at any hour)."""
    language = current_app.config["DEFAULT_LANGUAGE"]
    with in_language(language):
        body = gettext(
            "Laoyou: the nightly ledger check found %(count)s problem(s). "
            "See the admin panel's Jobs page.",
            count=problems,
        )
    for phone in admin_phones():
        enqueue(
            address=phone,
            body=body,
            kind="system",
            language=language,
            dedupe_key=f"admin:ledger_check:{run_key}:{phone}",
        )
        log.error("ledger check alert queued for %s", mask_phone(phone))


JOBS = (
    Job(
        "inbound_purge",
        inbound_purge,
        N_("Delete inbound messages older than PURGE_INBOUND_AFTER_DAYS"),
        at="04:00",
    ),
    Job(
        "outbox_sweep",
        outbox_sweep,
        N_("Queue again the messages a stopped dispatcher left half-sent"),
        every_minutes=5,
    ),
)
