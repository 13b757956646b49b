"""Stores: the shops of a chain, each with its code and region."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from app.stores.cli import store_group

    app.cli.add_command(store_group)
