"""The ledger's scheduled jobs (registered in ``app.ledger.init_app``; see ``app.jobs``).

Each is ``(as_of, run_key) -> counts`` over the ledger's services; the scheduler runs it
in its own unit of work. Each is safe to run twice for the same day: the expiry's
journal keys (``expire:<day>:<account>``), the reminders' outbox keys (card and expiry
day), the review's ``review_on`` and the run key itself make a repeat change nothing.
"""

from __future__ import annotations

import datetime as dt
import logging

from flask import current_app

from app import clock
from app.audit.services import Actor, record
from app.i18n import N_
from app.jobs import Job
from app.ledger.check import run_check
from app.ledger.expiry import expire_lots, remind_expiring
from app.ledger.housekeeping import purge_idempotency_records
from app.ledger.rules.engine import current_rules
from app.ledger.rules.levels import review_levels
from app.signals import ledger_check_failed

log = logging.getLogger("laoyou.ledger")


class LedgerCheckFailed(Exception):
    """The nightly check found problems: the run is recorded failed, and the alert and the
    audit entry flushed before this is raised are committed all the same (``persist``)."""

    persist = True


def points_expiry(as_of: dt.date, run_key: str) -> dict[str, int]:
    report = expire_lots(as_of)
    return {
        "cards": report.cards,
        "lots": report.lots,
        "points": report.points,
        "already_done": report.already_done,
    }


def points_expiring_reminders(as_of: dt.date, run_key: str) -> dict[str, int]:
    days = int(current_app.config["POINTS_EXPIRING_REMINDER_DAYS"])
    return {"cards": remind_expiring(as_of, days=days), "days_ahead": days}


def level_review(as_of: dt.date, run_key: str) -> dict[str, int]:
    if not current_rules().downgrade_enabled:
        return {"members": 0, "disabled": 1}
    return {"members": len(review_levels(as_of))}


def ledger_check(as_of: dt.date, run_key: str) -> dict[str, int]:
    report = run_check()
    if report.ok:
        return {
            "accounts": report.accounts,
            "transactions": report.transactions,
            "lines": report.lines,
            "lots": report.lots,
        }
    for problem in report.problems:
        log.error("ledger check (%s): %s", run_key, problem)
    record(
        "ledger.check_failed",
        "job_run",
        run_key,
        after={"problems": report.problems[:20], "count": len(report.problems)},
        actor=Actor("system", "job:ledger_check"),
    )
    ledger_check_failed.send(report, run_key=run_key, problems=len(report.problems))
    raise LedgerCheckFailed(report.summary() + "\n" + "\n".join(report.problems[:50]))


def idempotency_purge(as_of: dt.date, run_key: str) -> dict[str, int]:
    days = int(current_app.config["PURGE_IDEMPOTENCY_AFTER_DAYS"])
    before = dt.datetime.combine(as_of - dt.timedelta(days=days), dt.time(), clock.zone())
    return {"records": purge_idempotency_records(before), "older_than_days": days}


JOBS = (
    Job("points_expiry", points_expiry, N_("Expire points lots past their last day"), at="00:30"),
    Job(
        "points_expiring_reminders",
        points_expiring_reminders,
        N_("Remind members of points expiring within POINTS_EXPIRING_REMINDER_DAYS"),
        at="10:00",
    ),
    Job(
        "level_review",
        level_review,
        N_("The yearly level review: members below their level's keep threshold move down"),
        at="01-01 03:00",
    ),
    Job(
        "ledger_check",
        ledger_check,
        N_("Audit the journal; a mismatch fails the run and alerts ADMIN_ALERT_PHONES"),
        at="02:00",
    ),
    Job(
        "idempotency_purge",
        idempotency_purge,
        N_("Delete API Idempotency-Key records older than PURGE_IDEMPOTENCY_AFTER_DAYS"),
        at="04:10",
    ),
)
