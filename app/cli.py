"""The ``laoyou`` command: Flask's CLI over ``create_app`` plus every package's commands."""

from __future__ import annotations

from flask import Flask
from flask.cli import FlaskGroup


def register_commands(app: Flask) -> None:
    from app.dbcli import db_group

    app.cli.add_command(db_group)


def _create_app() -> Flask:
    from app import create_app

    return create_app()


def main() -> None:
    cli = FlaskGroup(create_app=_create_app, help="Laoyou membership service.")
    cli.main(prog_name="laoyou")
