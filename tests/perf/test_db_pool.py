"""PostgreSQL pool: a connection that died while idle in the pool is replaced unseen
(``pool_pre_ping``)."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import text

from app.db import make_engine
from tests.conftest import PG_URL, _pg_conninfo, _postgres_reason

pytestmark = pytest.mark.perf


@pytest.fixture
def engine():  # type: ignore[no-untyped-def]
    reason = _postgres_reason()
    if reason:
        pytest.skip(reason)
    engine = make_engine(PG_URL, pool_size=1, max_overflow=0)
    yield engine
    engine.dispose()


def _backend_pid(engine) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def test_a_connection_that_died_while_idle_is_replaced(engine) -> None:  # type: ignore[no-untyped-def]
    dead = _backend_pid(engine)
    with psycopg.connect(_pg_conninfo(PG_URL), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (dead,))
    assert _backend_pid(engine) != dead  # no error reached the caller
