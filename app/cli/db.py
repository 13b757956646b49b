"""``laoyou db …``: Alembic migrations for the app's own database."""

from __future__ import annotations

from pathlib import Path

import click
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask.cli import with_appcontext
from sqlalchemy import inspect

from app.config import StartupError
from app.db import Base, db

MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


class NotMigrated(StartupError):
    """The database's schema is not this code's newest revision."""

    def __init__(self) -> None:
        super().__init__("the database is not migrated: run 'laoyou db upgrade'")


def pending_migration() -> bool:
    """Whether the database (of the current app) lacks tables or a migration this code has.

    On a connection of its own: the caller's session may hold a failed transaction.
    """
    with db.engine.connect() as connection:
        tables = set(inspect(connection).get_table_names())
        if not tables.issuperset(Base.metadata.tables):
            return True
        if "alembic_version" not in tables:
            return False  # made by create_all (the tests): the tables are the models'
        current = set(MigrationContext.configure(connection).get_current_heads())
    return current != set(ScriptDirectory.from_config(alembic_config()).get_heads())


def require_migrated() -> None:
    """For commands that run on (and would retry every failure) rather than fail once."""
    if pending_migration():
        raise NotMigrated()


@click.group("db", help="Database migrations.")
def db_group() -> None:
    pass


@db_group.command("upgrade", help="Migrate the database to the latest schema.")
@click.argument("revision", default="heads")
@with_appcontext
def upgrade(revision: str) -> None:
    command.upgrade(alembic_config(), revision)
    click.echo(f"database at {revision}")


@db_group.command("downgrade", help="Step the schema back (default: one revision).")
@click.argument("revision", default="-1")
@with_appcontext
def downgrade(revision: str) -> None:
    command.downgrade(alembic_config(), revision)


@db_group.command("current", help="Show the schema revision of the database.")
@with_appcontext
def current() -> None:
    command.current(alembic_config())


@db_group.command("revision", help="Write a new migration (developers).")
@click.option("-m", "--message", required=True)
@click.option("--autogenerate/--empty", default=True)
@click.option("--rev-id", default=None, help="Revision id, e.g. 0004_wechat.")
@with_appcontext
def revision(message: str, autogenerate: bool, rev_id: str | None) -> None:
    command.revision(alembic_config(), message=message, autogenerate=autogenerate, rev_id=rev_id)
