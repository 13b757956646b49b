"""Store API keys: issue, revoke, authenticate."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from app.auth.cli import apikey_group

    app.cli.add_command(apikey_group)
