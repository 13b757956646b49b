"""Members: registration, profiles, levels' names, questions, birthdays."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from app.members.cli import birthdays_command, member_count_column, member_group
    from app.signals import store_columns

    app.cli.add_command(member_group)
    app.cli.add_command(birthdays_command)
    store_columns.connect(member_count_column, weak=False)
