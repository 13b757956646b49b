"""PostgreSQL pool: a connection idle in the pool is pinged before use, a busy one is not."""

from __future__ import annotations

import time

import psycopg
import pytest
from sqlalchemy import text

from app import db as app_db
from tests.conftest import PG_URL, _pg_conninfo, _postgres_reason


@pytest.fixture
def engine(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    reason = _postgres_reason()
    if reason:
        pytest.skip(reason)
    monkeypatch.setattr(app_db, "PING_AFTER_IDLE_S", 0.2)
    engine = app_db.make_engine(PG_URL, pool_size=1, max_overflow=0)
    pings: list[int] = []
    ping = engine.dialect.do_ping
    monkeypatch.setattr(engine.dialect, "do_ping", lambda conn: pings.append(1) or ping(conn))
    engine.info = {"pings": pings}  # type: ignore[attr-defined]
    yield engine
    engine.dispose()


def _backend_pid(engine) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def test_a_connection_used_a_moment_ago_is_not_pinged(engine) -> None:  # type: ignore[no-untyped-def]
    first = _backend_pid(engine)
    assert _backend_pid(engine) == first
    assert engine.info["pings"] == []


def test_a_connection_that_died_while_idle_is_replaced(engine) -> None:  # type: ignore[no-untyped-def]
    dead = _backend_pid(engine)
    with psycopg.connect(_pg_conninfo(PG_URL), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (dead,))
    time.sleep(0.3)
    assert _backend_pid(engine) != dead  # no error reached the caller
    assert engine.info["pings"] == [1]
