"""Alembic environment: runs inside the app so it migrates the app's own database."""

from __future__ import annotations

from typing import Any

from alembic import context
from flask import current_app

from app.db import Base, db
from app.models import import_all

import_all()
target_metadata = Base.metadata


def run_migrations() -> None:
    connectable = db.engine
    with connectable.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # Batch mode rebuilds a table (drop, then rename its copy) while other tables
            # refer to it; SQLite would count each reference as broken for good. Checked
            # once instead, before the commit. The pragma works only outside a
            # transaction, hence the driver's connection.
            _driver(connection).execute("PRAGMA foreign_keys=OFF")
        try:
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                render_as_batch=sqlite,
                compare_type=True,
            )
            with context.begin_transaction():
                context.run_migrations()
                if sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                    if broken:
                        raise RuntimeError(f"the migration broke foreign keys: {broken[:5]}")
        finally:
            if sqlite:
                _driver(connection).execute("PRAGMA foreign_keys=ON")


def _driver(connection: Any) -> Any:
    return connection.connection.dbapi_connection


if context.is_offline_mode():
    raise SystemExit(f"offline migrations are not supported ({current_app.name})")
run_migrations()
