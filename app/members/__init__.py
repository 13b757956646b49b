"""Members: registration, profiles, levels' names, questions, birthdays."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from app.members.cli import member_group

    app.cli.add_command(member_group)
