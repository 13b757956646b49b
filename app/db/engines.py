"""Engines: SQLite's connection pragmas and write lock, PostgreSQL's pool settings."""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError


def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite's own is broken).
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def _sqlite_begin(conn: Connection) -> None:
    # IMMEDIATE takes the write lock up front: a read-then-write transaction
    # can then never fail half-way with SQLITE_BUSY, and two counters cannot
    # both read the same balance. SQLite serialises writers anyway.
    dbapi = conn.connection.dbapi_connection
    assert dbapi is not None
    try:
        dbapi.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as error:
        raise OperationalError("BEGIN IMMEDIATE", (), error) from error


def make_engine(url: str, **options: Any) -> Engine:
    """An engine for ``url``: SQLite with its pragmas, PostgreSQL with a pinged pool."""
    if url.startswith("sqlite"):
        engine = create_engine(url, **options)
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    options.setdefault("pool_size", 10)
    options.setdefault("max_overflow", 20)
    # A connection dropped by a restart, a failover or an idle timeout is replaced
    # before anyone gets it.
    options.setdefault("pool_pre_ping", True)
    # Server-side idle timeouts and proxies drop connections after minutes, not seconds.
    options.setdefault("pool_recycle", 1800)
    return create_engine(url, **options)
