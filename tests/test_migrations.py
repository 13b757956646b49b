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
from app.db import Base
from app.dbcli import alembic_config
from tests.conftest import settings_for


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
        command.downgrade(alembic_config(), "base")
        with db.engine.connect() as conn:
            left = set(inspect(conn).get_table_names()) - {"alembic_version"}
        assert left == set()
        db.engine.dispose()
