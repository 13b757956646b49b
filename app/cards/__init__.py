"""Cards: numbers, media, states and their transitions, lookup by any medium."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from app.cards.cli import cards_group

    app.cli.add_command(cards_group)
