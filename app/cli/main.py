"""The ``laoyou`` group: Flask's CLI over ``create_app``, whose packages add their commands."""

from __future__ import annotations

import sys
from typing import Any, NoReturn

import click
from flask import Flask, has_app_context
from flask.cli import FlaskGroup, ScriptInfo
from sqlalchemy.exc import DBAPIError

from app.config import ConfigError, StartupError


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
            from app.cli.db import NotMigrated, pending_migration
            from app.db import db

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
    from app.cli.run import run_command
    from app.store_station.counter.cli import station_command

    cli.add_command(run_command)  # Flask's run, plus --with-dispatcher
    # The counter program builds no central app (it has no database): added here, not by
    # an init_app, so `laoyou station` runs on a counter PC with only the API key.
    cli.add_command(station_command)
    try:
        cli.main(prog_name="laoyou")
    except StartupError as exc:
        _startup_failure(exc)
