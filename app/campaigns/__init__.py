"""Campaigns: votes, draws and messages to the store (what the SMS commands need), and the
marketers' tools: segments, broadcasts, the birthday jobs (``jobs.py``), club activities
with the win-back job (``activities.py``, ``activity_jobs.py``).
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from app.campaigns import jobs
    from app.campaigns.activity_jobs import JOBS as ACTIVITY_JOBS
    from app.campaigns.cli import broadcast_group, draw_group, messages_group, vote_group
    from app.jobs import register_job

    app.cli.add_command(vote_group)
    app.cli.add_command(draw_group)
    app.cli.add_command(messages_group)
    app.cli.add_command(broadcast_group)
    for job in (*jobs.JOBS, *ACTIVITY_JOBS):
        register_job(app, job)
