"""The Alembic migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from app import create_app
from app.cli.db import alembic_config
from app.db import Base
from app.ledger.models import SYSTEM_ACCOUNTS
from tests.conftest import settings_for

EXPECTED_TRIGGERS = {
    "postgresql": {
        "ledger_line_zero_sum",
        "ledger_line_no_update",
        "ledger_line_no_delete",
        "ledger_transaction_no_update",
        "points_lot_use_no_update",
        "ledger_account_keep_system",
    },
    "sqlite": {
        "ledger_line_no_update",
        "ledger_transaction_no_update",
        "points_lot_use_no_update",
        "ledger_account_keep_system",
    },
}


def _triggers(engine: Any) -> set[str]:
    """The ledger's invariants live in triggers that autogenerate cannot compare."""
    sql = (
        "SELECT t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE NOT t.tgisinternal AND n.nspname = current_schema()"
        if engine.dialect.name == "postgresql"
        else "SELECT name FROM sqlite_master WHERE type = 'trigger'"
    )
    with engine.connect() as conn:
        return set(conn.exec_driver_sql(sql).scalars())


@pytest.fixture
def empty_backend(backend: dict[str, Any], tmp_path: Any) -> Iterator[dict[str, Any]]:
    """A database with no tables: a new SQLite file, or a new PostgreSQL schema."""
    if backend["name"] == "sqlite":
        yield {"name": "sqlite", "url": f"sqlite:///{tmp_path / 'migrated.sqlite3'}"}
        return
    import psycopg
    from sqlalchemy.engine import make_url

    from tests.conftest import PG_URL, _pg_conninfo

    schema = backend["schema"] + "_mig"
    with psycopg.connect(_pg_conninfo(PG_URL), autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        conn.execute(f"CREATE SCHEMA {schema}")
    url = make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    yield {"name": "postgresql", "url": url.render_as_string(hide_password=False)}
    with psycopg.connect(_pg_conninfo(PG_URL), autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def test_upgrade_matches_models_and_downgrades_cleanly(empty_backend: dict[str, Any]) -> None:
    config = settings_for({"url": empty_backend["url"], "engine": None})
    app = create_app(config)
    with app.app_context():
        from app.db import db

        command.upgrade(alembic_config(), "heads")
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == [], f"models and migrations differ: {diff}"
        assert _triggers(db.engine) >= EXPECTED_TRIGGERS[empty_backend["name"]]
        with db.engine.connect() as conn:
            system = conn.exec_driver_sql(
                "SELECT count(*) FROM ledger_account WHERE code IS NOT NULL"
            ).scalar_one()
        assert system == len(SYSTEM_ACCOUNTS)
        command.downgrade(alembic_config(), "base")
        with db.engine.connect() as conn:
            left = set(inspect(conn).get_table_names()) - {"alembic_version"}
        assert left == set()
        db.engine.dispose()
