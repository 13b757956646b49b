"""Whether the database answers: the one thing ``/healthz`` asks."""

from __future__ import annotations

import logging
import sqlite3

import psycopg
from sqlalchemy.exc import SQLAlchemyError

from app.db import db

log = logging.getLogger(__name__)


def database_reachable() -> bool:
    """``SELECT 1`` on a pooled connection (the pool's pre-ping applies), outside any
    transaction: on SQLite every transaction of the app begins by taking the write lock
    (``BEGIN IMMEDIATE``), and a health check must not queue behind a long write and then
    call a busy database unreachable.

    A failure is logged by its kind and first line only: the caller answers a load
    balancer, which needs no stack trace and must never see the DSN.
    """
    try:
        with db.engine.connect() as connection:
            cursor = connection.connection.cursor()
            try:
                cursor.execute("SELECT 1")
                cursor.fetchone()
            finally:
                cursor.close()
    except (SQLAlchemyError, sqlite3.Error, psycopg.Error) as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        log.warning(
            "health check: database unreachable (%s: %s)",
            type(exc).__name__,
            reason[0] if reason else "",
        )
        return False
    return True
