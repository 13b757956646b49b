"""Campaigns: votes, draws and messages to the store (the member takes part by SMS or
WeChat; the panel and the ``campaign_schedule`` job open, close and draw them, see
votes.py, draws.py), and the marketers' tools: segments, broadcasts, the birthday jobs
(``jobs.py``), club activities with the win-back job (``activities.py``,
``activity_jobs.py``).
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from app.campaigns import activity_jobs, draw_jobs, jobs
    from app.campaigns.cli import broadcast_group, draw_group, messages_group, vote_group
    from app.campaigns.eligibility import SEGMENT_EXISTS, SEGMENT_EXTENSION
    from app.campaigns.segments import segment_contains, segment_exists
    from app.jobs import register_job

    app.cli.add_command(vote_group)
    app.cli.add_command(draw_group)
    app.cli.add_command(messages_group)
    app.cli.add_command(broadcast_group)
    # Votes and draws may be limited to a saved segment.
    app.extensions[SEGMENT_EXTENSION] = segment_contains
    app.extensions[SEGMENT_EXISTS] = segment_exists
    for job in (*jobs.JOBS, *activity_jobs.JOBS, *draw_jobs.JOBS):
        register_job(app, job)
    _init_promotions(app)


def _init_promotions(app: Flask) -> None:
    """The ledger asks campaigns for the promotions in force at each checkout."""
    from app.campaigns.promotions import PromotionOffers
    from app.ledger.promotions import register_provider

    register_provider(app, "campaigns", PromotionOffers())
