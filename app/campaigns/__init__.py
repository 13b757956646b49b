"""Votes, draws and messages to the store: the minimum the SMS commands need.

Scheduling, drawing winners and announcing results come with the campaigns issue.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from app.campaigns.cli import draw_group, messages_group, vote_group

    app.cli.add_command(vote_group)
    app.cli.add_command(draw_group)
    app.cli.add_command(messages_group)
    _init_promotions(app)


def _init_promotions(app: Flask) -> None:
    """The ledger asks campaigns for the promotions in force at each checkout."""
    from app.campaigns.promotions import PromotionOffers
    from app.ledger.promotions import register_provider

    register_provider(app, "campaigns", PromotionOffers())
