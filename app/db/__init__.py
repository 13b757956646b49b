"""The database: declarative base, engine per app, one session per app context.

Plain SQLAlchemy 2.0 rather than an extension so that the hot ledger path,
SQLite's write locking and the tests' outer transaction stay under our hand.

Services flush; the boundary (a request, a CLI command, a job run, a bot
message) commits once, or rolls back on any exception.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from flask import Flask, current_app
from flask.globals import _cv_app, _cv_request
from psycopg.pq import TransactionStatus
from sqlalchemy import DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DisconnectionError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, scoped_session, sessionmaker
from sqlalchemy.types import TypeDecorator

from app import clock

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
    # both read the same balance. SQLite serialises writers anyway. Sent on the
    # driver's connection: through exec_driver_sql it cost as much as the
    # statement after it, on every unit of work.
    dbapi = conn.connection.dbapi_connection
    assert dbapi is not None
    try:
        dbapi.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as error:
        raise OperationalError("BEGIN IMMEDIATE", (), error) from error


def make_engine(url: str, **options: Any) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, **options)
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    options.setdefault("pool_size", 10)
    options.setdefault("max_overflow", 20)
    # Server-side idle timeouts and proxies drop connections after minutes, not seconds.
    options.setdefault("pool_recycle", 1800)
    engine = create_engine(url, **options)
    event.listen(engine, "checkin", _end_autocommit)
    if not options.get("pool_pre_ping"):
        _ping_when_idle(engine)
    return engine


def _end_autocommit(dbapi_conn: Any, record: Any) -> None:
    """Back to transactions for the pool's next user (``Database.autocommit``)."""
    if record.info.pop(_SWITCHED, False) and dbapi_conn is not None:
        try:
            dbapi_conn.autocommit = False
        except psycopg.Error:
            # Broken or left in a transaction: never hand it out in autocommit.
            record.invalidate()


#: A pooled connection unused for longer than this is pinged before it is handed out.
PING_AFTER_IDLE_S = 10.0


def _ping_when_idle(engine: Engine) -> None:
    """``pool_pre_ping``, but only for a connection that sat idle in the pool.

    ``pool_pre_ping`` pays a round trip on every checkout, which on a busy webhook
    is one more statement per request than the work needs. A connection that
    was used a moment ago is as alive as a ping would show; the ones that die
    quietly (database restart, failover, an idle timeout) are those left unused,
    and those are still pinged. A connection that fails its ping is replaced
    (``DisconnectionError`` makes the pool retry with a fresh one), and a
    disconnect in mid-request invalidates the whole pool, as SQLAlchemy does anyway.
    """

    @event.listens_for(engine, "checkin")
    def _checkin(_dbapi_conn: Any, record: Any) -> None:
        record.info["laoyou_idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("laoyou_idle_since")
        if since is not None:
            _ping_if_idle(engine, dbapi_conn, since)


def _ping_if_idle(engine: Engine, dbapi_conn: Any, idle_since: float) -> None:
    """Ping a connection unused since ``idle_since`` (monotonic) for longer than
    ``PING_AFTER_IDLE_S``; ``DisconnectionError`` if it does not answer."""
    if time.monotonic() - idle_since < PING_AFTER_IDLE_S:
        return
    try:
        engine.dialect.do_ping(dbapi_conn)
    except engine.dialect.loaded_dbapi.Error as exc:
        raise DisconnectionError("connection failed its ping") from exc


class Database:
    """Engine per Flask app; a session per request, or per app context (command, job)."""

    def __init__(self) -> None:
        self.session: scoped_session[Session] = scoped_session(
            self._new_session,  # type: ignore[arg-type]  # any callable returning a Session works
            scopefunc=_context_key,
        )
        #: ``autocommit``'s connections, by the same scope key as sessions.
        self._bare: dict[int, Connection] = {}

    def init_app(self, app: Flask) -> None:
        # Tests hand in one engine per database so each app does not open a new pool.
        engine = app.config.get("DATABASE_ENGINE") or make_engine(app.config["DATABASE_URL"])
        app.extensions["laoyou.db"] = _AppDatabase(engine)
        app.teardown_request(self._teardown)
        app.teardown_appcontext(self._teardown)

    @property
    def engine(self) -> Engine:
        return current_app.extensions["laoyou.db"].engine

    def bind_to(self, app: Flask, connection: Connection | None) -> None:
        """Tests: make every session of ``app`` join ``connection``'s transaction."""
        app.extensions["laoyou.db"].connection = connection

    def connection(self) -> Connection:
        """The connection of the current session's transaction, which begins if need be.

        The same as ``db.session.connection()``, which walks the session's
        transaction state on every call: the ledger's hot path asks once per
        statement, so the answer is kept on the session until a transaction
        (or savepoint) begins or ends (see the events below).
        """
        session = self.session()
        found = session.info.get(_CONNECTION)
        if found is None:
            found = session.info[_CONNECTION] = session.connection()
        return found

    @contextmanager
    def autocommit(self) -> Iterator[Connection]:
        """A connection whose statements commit one by one (PostgreSQL), for the block only.

        For work that reads and then writes a single row, whose one write is atomic by
        itself: a read-only bot answer and its dedupe record. It then costs no BEGIN and
        no COMMIT (two of its four round trips) and no ORM session unless the work asks
        for one; a session opened inside the block joins this connection and is closed
        with it, so no transaction outlives the block. Work inside must not change ORM
        objects: a flush there is refused (each statement would commit at once), and
        changes left unflushed are an error at the end of the block; neither is kept.
        On SQLite (whose BEGIN IMMEDIATE is how writers queue), when a session is
        already open, and in tests whose sessions join an outer transaction, the block
        runs on ``connection()``, in the session's transaction, as any other work.

        The connection is the pool's, switched with psycopg's own ``autocommit`` flag
        (SQLAlchemy's ``isolation_level`` execution option does the same through
        machinery that cost 7% of a webhook request) and switched back when the pool
        takes it back (``_end_autocommit``). Between blocks each thread keeps its own
        (``_Kept``): checking it out and in again for every SMS answer cost a tenth of
        the webhook's CPU under load.
        """
        state: _AppDatabase = current_app.extensions["laoyou.db"]
        if (
            state.connection is not None
            or state.engine.dialect.name != "postgresql"
            or self.session.registry.has()
        ):
            yield self.connection()
            return
        kept = _kept()
        connection = kept.take(state.engine) or _autocommit_connection(state.engine)
        key = _context_key()
        self._bare[key] = connection
        clean = False
        try:
            yield connection
            if self.session.registry.has():
                session = self.session()
                if session.new or session.dirty or session.deleted:
                    raise RuntimeError("work run in autocommit changed ORM objects")
            clean = True
        finally:
            del self._bare[key]
            self.session.remove()  # one opened inside the block, on this connection
            if clean and _reusable(connection):
                kept.keep(state.engine, connection)
            else:
                connection.close()

    def flush(self) -> None:
        """Flush the open session, if there is one (without opening one to flush nothing)."""
        if self.session.registry.has():
            self.session().flush()

    def _new_session(self) -> Session:
        bare = self._bare.get(_context_key())
        if bare is not None:  # inside ``autocommit``: joins its connection, never flushes
            return Session(bind=bare, expire_on_commit=False, info={_READ_ONLY: True})
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


def _autocommit_connection(engine: Engine) -> Connection:
    """A connection from ``engine``'s pool, in autocommit (``Database.autocommit``)."""
    connection = engine.connect()
    dbapi = connection.connection.driver_connection
    assert dbapi is not None  # a connection fresh from the pool
    # The pool hands out idle connections; psycopg refuses the switch on any other.
    dbapi.autocommit = True
    connection.connection.info[_SWITCHED] = True
    return connection


def _reusable(connection: Connection) -> bool:
    """Fit for the next block: open, in autocommit and idle (local checks, no round trip)."""
    if connection.closed or connection.invalidated or connection.in_transaction():
        return False
    dbapi = connection.connection.dbapi_connection
    return (
        dbapi is not None
        and not dbapi.closed
        and dbapi.autocommit
        and dbapi.info.transaction_status == _PG_IDLE
    )


class _Guard:
    """Lives in a thread's local storage; when the thread ends, it goes and its
    finalizer gives the thread's kept connection back to the pool."""


class _Kept:
    """One thread's autocommit connection, kept between ``Database.autocommit`` blocks.

    Pinged before reuse when it sat unused longer than ``PING_AFTER_IDLE_S``, as the
    pool does (``_ping_when_idle``), and replaced if that fails. Given back to its
    pool when a block fails, when another engine is asked for (tests), when its
    thread ends and at exit.
    """

    def __init__(self) -> None:
        self.connection: Connection | None = None
        self.engine: Engine | None = None
        self.idle_since = 0.0

    def take(self, engine: Engine) -> Connection | None:
        """The kept connection, if it is ``engine``'s and answers (``keep`` only keeps
        one found fit, and nothing but this thread touches it in between)."""
        connection, self.connection = self.connection, None
        if connection is None:
            return None
        if self.engine is engine:
            try:
                _ping_if_idle(engine, connection.connection.driver_connection, self.idle_since)
                return connection
            except DisconnectionError as exc:
                connection.invalidate(exc)
        connection.close()
        return None

    def keep(self, engine: Engine, connection: Connection) -> None:
        self.connection, self.engine, self.idle_since = connection, engine, time.monotonic()

    def give_back(self) -> None:
        connection, self.connection = self.connection, None
        if connection is not None and not connection.closed:
            connection.close()


_thread = threading.local()


def _kept() -> _Kept:
    kept: _Kept | None = getattr(_thread, "kept", None)
    if kept is None:
        kept = _thread.kept = _Kept()
        _thread.guard = _Guard()
        # Holds ``kept`` (not the guard): the connection is given back, not collected.
        weakref.finalize(_thread.guard, kept.give_back)
    return kept


_CONNECTION = "laoyou.connection"
#: Pool record flag: ``Database.autocommit`` switched this driver connection.
_SWITCHED = "laoyou.autocommit"
_PG_IDLE = TransactionStatus.IDLE


#: Session info flag: the session joins an ``autocommit`` block and may not write.
_READ_ONLY = "laoyou.read_only"


@event.listens_for(Session, "before_flush")
def _refuse_flush_in_autocommit(session: Session, _context: Any, _instances: Any) -> None:
    if session.info.get(_READ_ONLY):
        raise RuntimeError("work run in autocommit changed ORM objects")


@event.listens_for(Session, "after_transaction_create")
@event.listens_for(Session, "after_transaction_end")
def _forget_connection(session: Session, _transaction: Any) -> None:
    # A new (nested) transaction must get its connection from the session, which
    # emits its SAVEPOINT then; an ended one may have released it.
    session.info.pop(_CONNECTION, None)


class _AppDatabase:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.connection: Connection | None = None
        self.sessionmaker = sessionmaker(bind=engine)


def _context_key() -> int:
    # One session per request, else per app context (CLI command, job). A request
    # reuses an app context already pushed for the same app (tests do this), so
    # the request itself, not g, must key its session.
    # Flask's context variables rather than its proxies: this runs on every
    # ``db.session`` access, several times per statement of a posting.
    request_ctx = _cv_request.get(None)
    if request_ctx is not None:
        return id(request_ctx.request)
    return id(_cv_app.get().g)


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


def finish_failed(session: Session, exc: BaseException) -> None:
    """Roll back, unless the error is one whose flushed state must survive (a PIN failure)."""
    if getattr(exc, "persist", False):
        session.commit()
    else:
        session.rollback()
