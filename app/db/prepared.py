"""The hot statements, run straight on the DBAPI cursor of the session's connection: the
ledger's postings, and the three of an inbound answer (the sender's profile, the points
summary, the claim of the message with its reply).

SQLAlchemy's ``Connection.execute`` of an already compiled statement costs about
0.04 ms on SQLite and 0.09 ms on PostgreSQL on top of the driver's own work
(measured: 0.046 against 0.009 ms, 0.17 against 0.08 ms), which on SQLite is
more than the statement itself. A checkout makes about ten, and a WeChat 积分 three
beside its crypto (they were a seventh of its CPU), so the statements that run on every
posting and every answer go through :class:`Prepared` instead:
SQLAlchemy still writes and compiles the SQL (once per dialect and set of
parameters), the statement still runs in the session's transaction on its
connection, and a driver error is raised as SQLAlchemy's (``IntegrityError`` …)
as usual. What SQLAlchemy's column types would do to the parameters is done
here, explicitly and only for the types these statements carry: on SQLite an
aware datetime becomes naive UTC text and a date ISO text (the formats
SQLAlchemy stores), and parameters named in ``json`` are serialised with
``json.dumps`` on both databases. SQLAlchemy's execute events do not see these
statements (``observed`` does).

The seam: with ``DB_PREPARED_STATEMENTS`` off, the same statement runs through
SQLAlchemy's own ``Connection.execute`` (its types, events and result
processing), and rows come back as SQLAlchemy's; ``test_plain_execute.py`` in
tests/ledger, tests/sms and tests/wechat run the ledger and the answers that way.
Callers therefore accept both forms: rows come back as the driver gives them on the raw
path (datetimes and dates on SQLite as text).
"""

from __future__ import annotations

import datetime as dt
import json
from collections import namedtuple
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from flask import current_app
from sqlalchemy import exc
from sqlalchemy.engine import Connection

_UTC = dt.UTC

#: Callbacks given each statement's SQL (and the driver's connection) once it has run:
#: SQLAlchemy's execute events do not see these statements, so tests and benchmarks that
#: count statements, or look at the transaction they ran in, look here.
_observers: list[Callable[[str, Any], None]] = []


@contextmanager
def observed(callback: Callable[..., None], *, with_connection: bool = False) -> Iterator[None]:
    """Call ``callback(sql)`` for every prepared statement run inside the block, or with
    ``with_connection`` ``callback(sql, dbapi_connection)``, as SQLAlchemy's
    ``after_cursor_execute`` event would."""

    def observer(sql: str, dbapi: Any) -> None:
        if with_connection:
            callback(sql, dbapi)
        else:
            callback(sql)

    _observers.append(observer)
    try:
        yield
    finally:
        _observers.remove(observer)


#: SQL text, parameter names in order (SQLite) or None (named), bound literals, rows or not.
_Compiled = tuple[str, tuple[str, ...] | None, dict[str, Any], bool]


def _sqlite_value(value: Any) -> Any:
    """SQLAlchemy's SQLite text for a date or an aware datetime (``UtcDateTime``)."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        if value.tzinfo is not _UTC:  # clock.now() is UTC already
            value = value.astimezone(_UTC)
        return value.replace(tzinfo=None).isoformat(" ", "microseconds")
    return value.isoformat()


_CURSOR = "laoyou.prepared_cursor"


def _cursor(info: dict[str, Any], dbapi: Any) -> Any:
    """One cursor per driver connection, kept with it in the pool: a psycopg cursor costs
    about as much to make as to send a short statement, and these run on every posting."""
    cursor = info.get(_CURSOR)
    if cursor is None or cursor.connection is not dbapi:  # new, or the connection was replaced
        cursor = info[_CURSOR] = dbapi.cursor()
    return cursor


def driver_rows() -> bool:
    """Whether :class:`Prepared` statements run on the driver's cursor in this app
    (``DB_PREPARED_STATEMENTS``): their rows then hold the driver's values, untyped."""
    return bool(current_app.extensions["laoyou.db"].prepared)


class Prepared:
    """A Core statement compiled by SQLAlchemy once per dialect, run on the raw cursor.

    ``fields`` names the columns of the rows it returns (rows then have those
    attributes); ``json`` the parameters that hold JSON documents.
    """

    def __init__(self, stmt: Any, *, fields: Iterable[str] = (), json: Iterable[str] = ()) -> None:
        self.stmt = stmt
        self.fields = tuple(fields)
        self.row = namedtuple("Row", self.fields) if self.fields else None  # type: ignore[misc]
        self.json = frozenset(json)
        self._compiled: dict[tuple[str, frozenset[str]], _Compiled] = {}

    def _compile(self, connection: Connection, keys: frozenset[str]) -> _Compiled:
        dialect = connection.dialect
        compiled = self.stmt.compile(dialect=dialect, column_keys=sorted(keys))
        # Bound literals (``id = 1`` in a WHERE) keep their values; every other
        # parameter must be given, so nothing depends on SQLAlchemy's execution defaults.
        defaults = {
            k: v
            for k, v in compiled.params.items()
            if k not in keys and v is not None and not compiled.binds[k].required
        }
        positions = tuple(compiled.positiontup) if compiled.positional else None
        # Known here rather than asked of the cursor: psycopg builds its description's
        # column objects on every call. A text() statement is taken to return rows.
        dml = compiled.isinsert or compiled.isupdate or compiled.isdelete
        returns_rows = not dml or bool(compiled.effective_returning)
        return compiled.string, positions, defaults, returns_rows

    def rows(self, connection: Connection, params: Mapping[str, Any]) -> list[Any]:
        """Run once with ``params`` in the connection's transaction; the rows it returns."""
        if not driver_rows():
            return self._plain(connection, params)
        keys = frozenset(params)
        key = (connection.dialect.name, keys)
        found = self._compiled.get(key)
        if found is None:
            found = self._compiled[key] = self._compile(connection, keys)
        sql, positions, defaults, returns_rows = found
        args: Any
        if positions is not None:  # SQLite (qmark): a list in the statement's order
            values = {**defaults, **params} if defaults else params
            args = [values[name] for name in positions]
            for i, name in enumerate(positions):
                value = args[i]
                if name in self.json:
                    args[i] = json.dumps(value)
                elif isinstance(value, dt.date):
                    args[i] = _sqlite_value(value)
        else:
            args = {**defaults, **params} if defaults else dict(params)
            for name, value in args.items():
                if name in self.json:
                    args[name] = json.dumps(value)
                elif isinstance(value, dt.datetime) and value.tzinfo is None:
                    raise ValueError("naive datetime given to a UTC column")
        pooled = connection.connection
        dbapi = pooled.dbapi_connection
        assert dbapi is not None
        cursor = _cursor(pooled.info, dbapi)
        try:
            try:
                cursor.execute(sql, args)
            finally:  # told once it has run, or failed
                for observer in _observers:
                    observer(sql, dbapi)
            rows = cursor.fetchall() if returns_rows else []
        except connection.dialect.loaded_dbapi.Error as error:
            # As Connection.execute does: a lost connection is not handed back to the pool.
            lost = connection.dialect.is_disconnect(error, dbapi, cursor)
            if lost:
                connection.invalidate(error)
            raise exc.DBAPIError.instance(
                sql,
                args,
                error,
                connection.dialect.loaded_dbapi.Error,
                connection_invalidated=lost,
                dialect=connection.dialect,
            ) from error
        if self.row is not None:
            return [self.row(*r) for r in rows]
        return list(rows)

    def _plain(self, connection: Connection, params: Mapping[str, Any]) -> list[Any]:
        """``DB_PREPARED_STATEMENTS`` off: SQLAlchemy runs the statement, types and all."""
        result = connection.execute(self.stmt, dict(params))
        if not result.returns_rows:
            return []
        if self.row is not None:
            return [self.row(*r) for r in result]
        return list(result)

    def first(self, connection: Connection, params: Mapping[str, Any]) -> Any:
        """The first row it returns, or None."""
        rows = self.rows(connection, params)
        return rows[0] if rows else None

    def scalar(self, connection: Connection, params: Mapping[str, Any]) -> Any:
        row = self.first(connection, params)
        return None if row is None else row[0]
