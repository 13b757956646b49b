"""Votes, draws, messages to the store, and club activities with the win-back job.

Scheduling, drawing winners and announcing results come with the campaigns issue.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from app.campaigns.activity_jobs import JOBS as ACTIVITY_JOBS
    from app.campaigns.cli import draw_group, messages_group, vote_group
    from app.jobs import register_job

    app.cli.add_command(vote_group)
    app.cli.add_command(draw_group)
    app.cli.add_command(messages_group)
    for job in ACTIVITY_JOBS:
        register_job(app, job)
