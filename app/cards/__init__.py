"""Cards: numbers, media, states and their transitions, lookup by any medium."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from app.cards import jobs
    from app.cards.cli import cards_group, member_show
    from app.jobs import register_job
    from app.members.cli import member_group

    app.cli.add_command(cards_group)
    # `laoyou member show REF` finds the member by any card and lists their cards, so it
    # is cards' command in members' group (members import nothing of cards).
    member_group.add_command(member_show)
    for job in jobs.JOBS:
        register_job(app, job)
