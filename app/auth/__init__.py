"""Store API keys, and the admin panel's staff accounts with their permissions."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from app.auth.cli import apikey_group, staff_group

    app.cli.add_command(apikey_group)
    app.cli.add_command(staff_group)
