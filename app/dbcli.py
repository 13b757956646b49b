"""``laoyou db …``: Alembic migrations for the app's own database."""

from __future__ import annotations

from pathlib import Path

import click
from alembic import command
from alembic.config import Config
from flask.cli import with_appcontext

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


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
