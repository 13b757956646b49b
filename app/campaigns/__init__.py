"""Votes, draws and messages to the store: the member takes part by SMS or WeChat; the
panel and the ``campaign_schedule`` job open, close and draw them (see votes.py, draws.py).
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from app.campaigns import jobs
    from app.campaigns.cli import draw_group, messages_group, vote_group
    from app.jobs import register_job

    app.cli.add_command(vote_group)
    app.cli.add_command(draw_group)
    app.cli.add_command(messages_group)
    for job in jobs.JOBS:
        register_job(app, job)
