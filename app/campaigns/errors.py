"""Why a vote, a draw entry or a campaign command was refused (codes are contracts)."""

from __future__ import annotations

from app.errors import LaoyouError


class NoOpenVote(LaoyouError):
    code = "no_open_vote"
    status = 404


class UnknownOption(LaoyouError):
    code = "unknown_option"
    status = 400


class AlreadyVoted(LaoyouError):
    code = "already_voted"
    status = 409


class NoOpenDraw(LaoyouError):
    code = "no_open_draw"
    status = 404


class AlreadyEntered(LaoyouError):
    code = "already_entered"
    status = 409


class NotEligible(LaoyouError):
    """details: ``reason`` is ``level`` (with ``min_level_rank``) or ``points`` (with ``cost``)."""

    code = "not_eligible"
    status = 403


class CampaignOpen(LaoyouError):
    """Only one vote (or draw) is open at a time: SMS members name no campaign."""

    code = "campaign_open"
    status = 409


class CampaignStatus(LaoyouError):
    """The vote or draw is not in a status that allows this (closing a cancelled one,
    cancelling a drawn one). details: ``status``."""

    code = "campaign_status"
    status = 409
