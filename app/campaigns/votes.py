"""A vote's count and the announcement of its results to the voters."""

from __future__ import annotations

from sqlalchemy import func, select

from app.campaigns.models import Vote, VoteBallot, VoteOption
from app.campaigns.notify import notify
from app.db import db
from app.i18n import N_
from app.members.models import Member

RESULTS = N_("The vote “%(title)s” has closed. Results: %(results)s. Thank you for voting!")


def tally(vote: Vote) -> list[tuple[VoteOption, int]]:
    """Each option with its votes, in the options' order (live while the vote is open)."""
    rows = db.session.execute(
        select(VoteBallot.option_id, func.count())
        .where(VoteBallot.vote_id == vote.id)
        .group_by(VoteBallot.option_id)
    )
    counts = {option_id: n for option_id, n in rows}
    return [(option, counts.get(option.id, 0)) for option in vote.options]


def announce_results(vote: Vote) -> int:
    """One message per voter, on the channel they voted by; returns how many were queued."""
    results = "; ".join(f"{o.code} {o.label}: {n}" for o, n in tally(vote))
    rows = db.session.execute(
        select(Member, VoteBallot.channel)
        .join(VoteBallot, VoteBallot.member_id == Member.id)
        .where(VoteBallot.vote_id == vote.id)
        .order_by(VoteBallot.id)
    )
    queued = 0
    for member, channel in rows:
        notify(
            member,
            channel,
            RESULTS,
            {"title": vote.title, "results": results},
            key=f"vote:{vote.id}:result:{member.id}",
        )
        queued += 1
    return queued
