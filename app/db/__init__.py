"""The database: declarative base, engine per app, one session per app context.

Plain SQLAlchemy 2.0 rather than an extension so that SQLite's write locking
(``engines``) and the tests' outer transaction stay under our hand; the
ledger's raw-cursor executor is in ``prepared``.

Services flush; the boundary (a request, a CLI command, a job run, a bot
message) commits once, or rolls back on any exception.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask, current_app, g, has_request_context, request
from sqlalchemy import DateTime, Engine, MetaData
from sqlalchemy.engine import Connection
from sqlalchemy.orm import DeclarativeBase, Session, scoped_session
from sqlalchemy.types import TypeDecorator

from app import clock
from app.db.engines import make_engine

__all__ = [
    "Base",
    "Database",
    "UtcDateTime",
    "db",
    "finish_failed",
    "make_engine",
    "separate_transaction",
    "unit_of_work",
    "utcnow",
]

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[dt.datetime]):
    """Aware UTC datetimes on both databases (SQLite stores no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dt.datetime: UtcDateTime()}


def utcnow() -> dt.datetime:
    """Column defaults and services use this; ``app.clock.frozen`` fixes it in tests."""
    return clock.now()


class Database:
    """Engine per Flask app; a session per request, or per app context (command, job)."""

    def __init__(self) -> None:
        self.session: scoped_session[Session] = scoped_session(
            self._new_session,  # type: ignore[arg-type]  # any callable returning a Session works
            scopefunc=_context_key,
        )

    def init_app(self, app: Flask) -> None:
        # Tests hand in one engine per database so each app does not open a new pool.
        engine = app.config.get("DATABASE_ENGINE") or make_engine(app.config["DATABASE_URL"])
        app.extensions["laoyou.db"] = _AppDatabase(
            engine, prepared=bool(app.config.get("DB_PREPARED_STATEMENTS", True))
        )
        app.teardown_request(self._teardown)
        app.teardown_appcontext(self._teardown)

    @property
    def engine(self) -> Engine:
        return current_app.extensions["laoyou.db"].engine

    def bind_to(self, app: Flask, connection: Connection | None) -> None:
        """Tests: make every session of ``app`` join ``connection``'s transaction."""
        app.extensions["laoyou.db"].connection = connection

    def connection(self) -> Connection:
        """The connection of the current session's transaction, which begins if need be."""
        return self.session().connection()

    def flush(self) -> None:
        """Flush the open session, if there is one (without opening one to flush nothing)."""
        if self.session.registry.has():
            self.session().flush()

    def _new_session(self) -> Session:
        state: _AppDatabase = current_app.extensions["laoyou.db"]
        if state.connection is not None:
            return Session(
                bind=state.connection,
                join_transaction_mode="create_savepoint",
                expire_on_commit=False,
            )
        return Session(bind=state.engine, expire_on_commit=False)

    def _teardown(self, exc: BaseException | None) -> None:
        if self.session.registry.has():
            if exc is not None:
                self.session.rollback()
            self.session.remove()


class _AppDatabase:
    def __init__(self, engine: Engine, *, prepared: bool) -> None:
        self.engine = engine
        #: Tests: the connection whose transaction every session joins.
        self.connection: Connection | None = None
        #: ``DB_PREPARED_STATEMENTS``: the hot statements (``app.db.prepared``) on the raw cursor.
        self.prepared = prepared


def _context_key() -> int:
    # One session per request, else per app context (CLI command, job). A request
    # reuses an app context already pushed for the same app (tests do this), so
    # the request itself, not g, must key its session.
    if has_request_context():
        return id(request._get_current_object())  # type: ignore[attr-defined]
    return id(g._get_current_object())  # type: ignore[attr-defined]


db = Database()


@contextmanager
def unit_of_work() -> Iterator[Session]:
    """One commit at the boundary; any exception rolls everything back."""
    session = db.session()
    try:
        yield session
        session.commit()
    except BaseException as exc:
        finish_failed(session, exc)
        raise


@contextmanager
def separate_transaction() -> Iterator[Session]:
    """A short transaction of its own, committed on leaving whatever the unit of work does.

    For state every process shares that must not wait for, or roll back with, the caller's
    commit (the WeChat access token). On SQLite, when this thread's unit of work is already
    in a transaction it holds the database's one write lock (``BEGIN IMMEDIATE``), and a
    second connection would wait for it until the busy timeout: a savepoint of that
    transaction serves instead, already alone among writers, committed with it.
    """
    if db.session.registry.has() and db.engine.dialect.name == "sqlite":
        current = db.session()
        if current.in_transaction():
            with current.begin_nested():
                yield current
            return
    session = db._new_session()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def finish_failed(session: Session, exc: BaseException) -> None:
    """Roll back, unless the error is one whose flushed state must survive (a PIN failure)."""
    if getattr(exc, "persist", False):
        session.commit()
    else:
        session.rollback()
