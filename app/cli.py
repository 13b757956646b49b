"""The ``laoyou`` command: Flask's CLI over ``create_app`` plus every package's commands."""

from __future__ import annotations

import datetime as dt
import sys
import unicodedata
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NoReturn

import click
from flask import Flask, has_app_context
from flask.cli import FlaskGroup, ScriptInfo
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from app.config import ConfigError, StartupError


def register_commands(app: Flask) -> None:
    from app.auth.cli import apikey_group
    from app.campaigns.cli import draw_group, messages_group, vote_group
    from app.cards.cli import cards_group
    from app.dbcli import db_group
    from app.demo import demo_command
    from app.ledger.cli import ledger_group
    from app.ledger.levels import levels_group
    from app.ledger.rules_io import rules_group
    from app.members.cli import member_group
    from app.messaging.cli import alerts_group, outbox_group
    from app.sms.cli import sms_group
    from app.stores.cli import store_group

    app.cli.add_command(db_group)
    app.cli.add_command(store_group)
    app.cli.add_command(apikey_group)
    app.cli.add_command(cards_group)
    app.cli.add_command(member_group)
    app.cli.add_command(demo_command)
    app.cli.add_command(rules_group)
    app.cli.add_command(levels_group)
    app.cli.add_command(ledger_group)
    app.cli.add_command(outbox_group)
    app.cli.add_command(alerts_group)
    app.cli.add_command(sms_group)
    app.cli.add_command(vote_group)
    app.cli.add_command(draw_group)
    app.cli.add_command(messages_group)
    # flask-smorest adds its own group; the API document is served at /api/v1/openapi.json.
    app.cli.commands.pop("openapi", None)


@contextmanager
def cli_unit_of_work() -> Iterator[Session]:
    """A command's one commit; a domain error becomes ``Error: <message>``, exit 1, no writes."""
    from app.db import unit_of_work
    from app.errors import LaoyouError

    try:
        with unit_of_work() as session:
            yield session
    except LaoyouError as exc:
        raise click.ClickException(exc.message) from exc


def echo_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Left-aligned columns; CJK characters count double so columns line up in a terminal."""
    widths = [max(_width(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        cells = [cell + " " * (widths[i] - _width(cell)) for i, cell in enumerate(row)]
        click.echo("  ".join(cells).rstrip())


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def local_minute(moment: dt.datetime | None) -> str:
    """Local time to the minute, as an operator compares it with the clock on the wall."""
    from app.clock import to_local

    return "" if moment is None else to_local(moment).strftime("%Y-%m-%d %H:%M")


def _create_app() -> Flask:
    from app import create_app

    try:
        return create_app()
    except StartupError as exc:
        # Flask would print a traceback (or hide the error behind "no such command").
        _startup_failure(exc)


def _startup_failure(exc: StartupError) -> NoReturn:
    what = "configuration error: " if isinstance(exc, ConfigError) else ""
    click.echo(f"laoyou: {what}{exc}", err=True)
    sys.exit(2)


class LaoyouGroup(FlaskGroup):
    """Flask's CLI group, about Laoyou only, that turns a missing schema into one line.

    A command on a database that was never migrated (or is behind the code) fails on
    its first table with a driver's traceback; only then is the schema revision
    checked, so the commands that work pay nothing for the check.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(create_app=_create_app, add_version_option=False, **kwargs)
        # --app would load another application; the laoyou command is this one.
        self.params = [p for p in self.params if p.name != "app"]

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DBAPIError as exc:
            from app.db import db
            from app.dbcli import NotMigrated, pending_migration

            if has_app_context():
                db.session.remove()  # the failed command's transaction (SQLite: its lock)
            with ctx.ensure_object(ScriptInfo).load_app().app_context():
                if pending_migration():
                    raise NotMigrated() from exc
            raise


def main() -> None:
    cli = LaoyouGroup(
        help="Laoyou (老友) membership and loyalty service: members, cards, the points and "
        "money ledger, SMS. Settings come from the environment or ./.env (see .env.example)."
    )
    from app.messaging.run_command import run_command

    cli.add_command(run_command)  # Flask's run, plus --with-dispatcher
    try:
        cli.main(prog_name="laoyou")
    except StartupError as exc:
        _startup_failure(exc)
