"""``laoyou rules import|export|example`` and ``laoyou levels review``."""

from __future__ import annotations

import datetime as dt
import json
import sys
from typing import Any

import click

from app import clock
from app.cli.support import cli_unit_of_work
from app.errors import InvalidRequest
from app.ledger.rules.engine import current_rules
from app.ledger.rules.io import export_rules, replace_rules
from app.ledger.rules.levels import review_levels
from app.paths import example_rules


@click.group("levels", help="Member levels: the yearly review.")
def levels_group() -> None:
    pass


@levels_group.command("review")
@click.option(
    "--as-of",
    "as_of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Review date (local, YYYY-MM-DD); default today.",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Print who would move down, and write nothing.",
)
def review_command(as_of: dt.datetime | None, dry_run: bool) -> None:
    """Move members below their level's keep threshold one level down."""
    day = as_of.date() if as_of else clock.local_today()
    with cli_unit_of_work() as session:
        if not current_rules().downgrade_enabled:
            click.echo("Level review is disabled in the rules (growth.downgrade_enabled).")
            return
        # A dry run is the review itself, undone: it prints exactly what a real run would do.
        savepoint = session.begin_nested() if dry_run else None
        changes = review_levels(day)
        for member, change in changes:
            old = change.old_level.name if change.old_level else "-"
            new = change.new_level.name if change.new_level else "-"
            click.echo(f"{member.phone}  {old} -> {new}")
        if savepoint is not None:
            savepoint.rollback()
    if dry_run:
        click.echo(
            f"Level review as of {day.isoformat()} (dry run, nothing written): "
            f"{len(changes)} member(s) would move down."
        )
    else:
        click.echo(f"Level review as of {day.isoformat()}: {len(changes)} member(s) moved down.")


@click.group("rules", help="Programme rules: earning, discounts, bonuses, expiry, levels, gifts.")
def rules_group() -> None:
    pass


@rules_group.command("import")
@click.argument("file", type=click.File("rb"))
def import_command(file: Any) -> None:
    """Replace the rules with the JSON document FILE ('-' for stdin)."""
    try:
        document = json.loads(file.read().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise click.ClickException(f"{file.name} is not JSON: {exc}") from exc
    with cli_unit_of_work():
        try:
            counts = replace_rules(document)
        except InvalidRequest as exc:
            raise click.ClickException(f"rules not imported: {exc.message}") from exc
    click.echo(
        "Rules imported: " + ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in counts.items())
    )


@rules_group.command("example")
def example_command() -> None:
    """Print the example rules (the demo's) to edit and import: rules example > rules.json"""
    path = example_rules()
    if not path.is_file():
        raise click.ClickException(f"the example rules are not installed: {path} is missing")
    sys.stdout.write(path.read_text(encoding="utf-8"))


@rules_group.command("export")
def export_command() -> None:
    """Print the rules in force as one JSON document."""
    with cli_unit_of_work():
        document = export_rules()
    json.dump(document, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")
