"""Whether the database answers: the one thing ``/healthz`` asks."""

from __future__ import annotations

import logging

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.db import db

log = logging.getLogger(__name__)


def database_reachable() -> bool:
    """``SELECT 1`` on the request's own session (so the pool's pre-ping applies).

    A failure is logged by its kind and first line only: the caller answers a load
    balancer, which needs no stack trace and must never see the DSN.
    """
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        db.session.rollback()  # the request's commit then has nothing to do
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        log.warning(
            "health check: database unreachable (%s: %s)",
            type(exc).__name__,
            reason[0] if reason else "",
        )
        return False
    return True
