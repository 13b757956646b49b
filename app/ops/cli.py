"""``laoyou backup --out FILE`` and ``laoyou restore FILE [--force]``."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext

from app.ops.backup import BackupError, backup, database_url, describe, restore


@click.command("backup")
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The backup file to write (replaced only when the new copy is complete).",
)
@with_appcontext
def backup_command(out: Path) -> None:
    """Copy the database to one file while the service runs (SQLite online backup; pg_dump)."""
    try:
        backup(out)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"backed up {describe(database_url())} to {out} ({out.stat().st_size} bytes)")


@click.command("restore")
@click.argument("source", metavar="FILE", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--force",
    is_flag=True,
    help="Replace a database that already has tables (otherwise refused).",
)
@with_appcontext
def restore_command(source: Path, force: bool) -> None:
    """Replace the database with a backup from 'laoyou backup'; then migrate it if older.

    The file is checked whole before anything is written; a database that already has
    tables is refused without --force. Stop the web and the dispatcher first.
    """
    try:
        report = restore(source, force=force)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"restored {source} into {describe(database_url())}")
    if report.migrated:
        click.echo(f"schema migrated from {report.from_revision} to {report.revision}")
    else:
        click.echo(f"schema at {report.revision} (current)")
