"""The ``laoyou`` command (entry point ``app.cli:main``) and the helpers packages share.

Each package adds its own click group from its ``init_app``; this package imports none
of them (they import ``app.cli.support`` only).
"""

from __future__ import annotations

from flask import Flask

from app.cli.main import main

__all__ = ["init_app", "main"]


def init_app(app: Flask) -> None:
    from app.cli.db import db_group

    app.cli.add_command(db_group)
