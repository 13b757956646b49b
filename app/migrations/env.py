"""Alembic environment: runs inside the app so it migrates the app's own database."""

from __future__ import annotations

from alembic import context
from flask import current_app

from app.db import Base, db
from app.models import import_all

import_all()
target_metadata = Base.metadata


def run_migrations() -> None:
    connectable = db.engine
    with connectable.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    raise SystemExit(f"offline migrations are not supported ({current_app.name})")
run_migrations()
