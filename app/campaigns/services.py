"""Votes, draws and messages to the store. Services flush; the caller commits.

One vote and one draw are open at a time, because a member texting ``VOTE A``
names no campaign. One ballot and one entry per member are enforced by UNIQUE
constraints; a race between two messages ends in the same refusal as a repeat.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.campaigns.errors import (
    AlreadyEntered,
    AlreadyVoted,
    CampaignOpen,
    NoOpenDraw,
    NoOpenVote,
    NotEligible,
    UnknownOption,
)
from app.campaigns.models import (
    Draw,
    DrawEntry,
    StoreMessage,
    Vote,
    VoteBallot,
    VoteOption,
)
from app.db import db, utcnow
from app.errors import InsufficientFunds, InvalidRequest, NotFound
from app.members.models import Member
from app.stores.services import get_store

#: A vote or a draw: both open, close and are current the same way.
C = TypeVar("C", Vote, Draw)

_OPTION_CODE = re.compile(r"^[A-Z0-9]{1,16}$")
MAX_STORE_MESSAGE_CHARS = 1600


# --- votes --------------------------------------------------------------------------


def open_vote(title: str, options: Sequence[tuple[str, str]]) -> Vote:
    """Open a vote; ``options`` are (code, label) pairs such as ("A", "Red bean")."""
    title = title.strip()
    if not title or len(title) > 200:
        raise InvalidRequest("a vote needs a title of at most 200 characters", field="title")
    if current_vote() is not None:
        raise CampaignOpen("another vote is open; close it first")
    if len(options) < 2:
        raise InvalidRequest("a vote needs at least two options", field="options")
    vote = Vote(title=title, status="open", opened_at=utcnow())
    seen: set[str] = set()
    for code, label in options:
        code, label = code.strip().upper(), label.strip()
        if not _OPTION_CODE.match(code):
            raise InvalidRequest(f"option code {code!r} must be letters or digits", field="options")
        if code in seen:
            raise InvalidRequest(f"option code {code} is given twice", field="options")
        if not label or len(label) > 200:
            raise InvalidRequest(f"option {code} needs a label", field="options")
        seen.add(code)
        vote.options.append(VoteOption(code=code, label=label))
    db.session.add(vote)
    db.session.flush()
    return vote


def close_vote(vote_id: int) -> Vote:
    return _close(Vote, vote_id, "vote")


def current_vote() -> Vote | None:
    return _current(Vote)


def _close(model: type[C], campaign_id: int, noun: str) -> C:
    """Close a vote or a draw (closing a closed one changes nothing)."""
    campaign = db.session.get(model, campaign_id)
    if campaign is None:
        raise NotFound(f"no {noun} {campaign_id}")
    if campaign.status != "closed":
        campaign.status, campaign.closed_at = "closed", utcnow()
        db.session.flush()
    return campaign


def _current(model: type[C]) -> C | None:
    """The open vote or draw, the latest if an admin opened several."""
    return db.session.scalar(
        select(model).where(model.status == "open").order_by(model.id.desc()).limit(1)
    )


def ballot_of(vote: Vote, member: Member) -> VoteBallot | None:
    return db.session.scalar(
        select(VoteBallot).where(VoteBallot.vote_id == vote.id, VoteBallot.member_id == member.id)
    )


def cast_ballot(member: Member, choice: str, *, channel: str) -> VoteBallot:
    """Vote in the open vote by option code (``A``) or label (``red bean``), once."""
    vote = current_vote()
    if vote is None:
        raise NoOpenVote("no vote is open")
    option = _option(vote, choice)
    earlier = ballot_of(vote, member)
    if earlier is not None:
        raise AlreadyVoted("already voted", code=earlier.option.code, title=vote.title)
    ballot = VoteBallot(vote_id=vote.id, option=option, member_id=member.id, channel=channel)
    try:
        with db.session.begin_nested():
            db.session.add(ballot)
    except IntegrityError:
        earlier = ballot_of(vote, member)
        raise AlreadyVoted(
            "already voted", code=earlier.option.code if earlier else "", title=vote.title
        ) from None
    return ballot


def _option(vote: Vote, choice: str) -> VoteOption:
    wanted = choice.strip().upper()
    for option in vote.options:
        if wanted in (option.code, option.label.upper()):
            return option
    raise UnknownOption(f"{choice!r} is not an option", choice=choice.strip())


def vote_results(vote: Vote) -> list[tuple[VoteOption, int]]:
    from sqlalchemy import func

    rows = db.session.execute(
        select(VoteBallot.option_id, func.count())
        .where(VoteBallot.vote_id == vote.id)
        .group_by(VoteBallot.option_id)
    )
    counts = {option_id: n for option_id, n in rows}
    return [(option, counts.get(option.id, 0)) for option in vote.options]


# --- draws --------------------------------------------------------------------------


def open_draw(title: str, *, min_level_rank: int | None = None, points_cost: int = 0) -> Draw:
    title = title.strip()
    if not title or len(title) > 200:
        raise InvalidRequest("a draw needs a title of at most 200 characters", field="title")
    if points_cost < 0:
        raise InvalidRequest("points cost cannot be negative", field="points_cost")
    if min_level_rank is not None and min_level_rank < 1:
        raise InvalidRequest("level ranks start at 1", field="min_level_rank")
    if current_draw() is not None:
        raise CampaignOpen("another draw is open; close it first")
    draw = Draw(
        title=title,
        status="open",
        min_level_rank=min_level_rank,
        points_cost=points_cost,
        opened_at=utcnow(),
    )
    db.session.add(draw)
    db.session.flush()
    return draw


def close_draw(draw_id: int) -> Draw:
    return _close(Draw, draw_id, "draw")


def current_draw() -> Draw | None:
    return _current(Draw)


def entry_of(draw: Draw, member: Member) -> DrawEntry | None:
    return db.session.scalar(
        select(DrawEntry).where(DrawEntry.draw_id == draw.id, DrawEntry.member_id == member.id)
    )


def enter_draw(member: Member, *, channel: str) -> DrawEntry:
    """Enter the open draw once; a points cost is paid through the ledger in the same step."""
    draw = current_draw()
    if draw is None:
        raise NoOpenDraw("no draw is open")
    if entry_of(draw, member) is not None:
        raise AlreadyEntered("already entered", title=draw.title)
    rank = member.level.rank if member.level is not None else 0
    if draw.min_level_rank is not None and rank < draw.min_level_rank:
        raise NotEligible(
            "level too low", reason="level", min_level_rank=draw.min_level_rank, title=draw.title
        )
    entry = DrawEntry(
        draw_id=draw.id, member_id=member.id, points_paid=draw.points_cost, channel=channel
    )
    try:
        # The entry and its payment stand or fall together.
        with db.session.begin_nested():
            if draw.points_cost:
                entry.ledger_transaction_id = _pay_points(member, draw)
            db.session.add(entry)
    except IntegrityError:
        raise AlreadyEntered("already entered", title=draw.title) from None
    except InsufficientFunds:
        raise NotEligible(
            "not enough points", reason="points", cost=draw.points_cost, title=draw.title
        ) from None
    return entry


def _pay_points(member: Member, draw: Draw) -> int:
    """One journal posting across the member's cards (primary first), once per draw and member."""
    from app.cards.services import member_cards
    from app.ledger.balances import card_balances
    from app.ledger.journal import Entry, post

    needed = draw.points_cost
    entries: list[Entry] = []
    for card in member_cards(member):
        if card.state != "active" or needed == 0:
            continue
        take = min(needed, card_balances(card.id).points)
        if take > 0:
            entries.append(Entry("points", -take, card_id=card.id))
            needed -= take
    if needed:
        raise InsufficientFunds("not enough points", needed=draw.points_cost)
    entries.append(Entry("points", draw.points_cost, system="spent"))
    posting = post(
        "redemption",
        f"draw:{draw.id}:member:{member.id}",
        entries,
        reason="draw_entry",
        member_id=member.id,
        card_id=entries[0].card_id,
        details={"draw_id": draw.id},
    )
    return posting.id


def entry_count(draw: Draw) -> int:
    from sqlalchemy import func

    return (
        db.session.scalar(
            select(func.count()).select_from(DrawEntry).where(DrawEntry.draw_id == draw.id)
        )
        or 0
    )


# --- messages to the store -------------------------------------------------------------


def leave_message(member: Member, text: str, *, channel: str) -> StoreMessage:
    text = text.strip()
    if not text:
        raise InvalidRequest("the message is empty", field="text")
    if len(text) > MAX_STORE_MESSAGE_CHARS:
        raise InvalidRequest("the message is too long", field="text")
    message = StoreMessage(
        member_id=member.id,
        store_id=member.home_store_id,
        text=text,
        channel=channel,
        created_at=utcnow(),
    )
    db.session.add(message)
    db.session.flush()
    return message


def list_messages(
    store_code: str | None = None, *, unread_only: bool = False
) -> list[StoreMessage]:
    query = select(StoreMessage).order_by(StoreMessage.id)
    if store_code:
        query = query.where(StoreMessage.store_id == get_store(store_code).id)
    if unread_only:
        query = query.where(StoreMessage.read_at.is_(None))
    return list(db.session.scalars(query))


def mark_read(messages: Sequence[StoreMessage]) -> None:
    now = utcnow()
    for message in messages:
        if message.read_at is None:
            message.read_at = now
    db.session.flush()
