"""Votes, draws and messages to the store. Services flush; the caller commits.

A vote or a draw is opened now or scheduled (``opens_at``, ``closes_at``; the
``campaign_schedule`` job opens and closes them), closed (a vote's results announced, a
draw's winners drawn: ``votes.py``, ``draws.py``) or cancelled (a draw's points given
back). One vote and one draw are open at a time, because a member texting ``VOTE A``
names no campaign. One ballot and one entry per member are enforced by UNIQUE
constraints; a race between two messages ends in the same refusal as a repeat.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app import clock
from app.campaigns.draws import commit_seed, draw_winners, refund_entries
from app.campaigns.eligibility import check_rules, refusal
from app.campaigns.errors import (
    AlreadyEntered,
    AlreadyVoted,
    CampaignOpen,
    CampaignStatus,
    NoOpenDraw,
    NoOpenVote,
    NotEligible,
    UnknownOption,
)
from app.campaigns.models import (
    Draw,
    DrawEntry,
    DrawPrize,
    StoreMessage,
    Vote,
    VoteBallot,
    VoteOption,
)
from app.campaigns.votes import announce_results, tally
from app.db import db, utcnow
from app.errors import InsufficientFunds, InvalidRequest, NotFound
from app.members.models import Member
from app.stores.services import get_store

#: A vote or a draw: both open, close and are current the same way.
C = TypeVar("C", Vote, Draw)

_OPTION_CODE = re.compile(r"^[A-Z0-9]{1,16}$")
MAX_STORE_MESSAGE_CHARS = 1600
#: The most points one entry may cost.
MAX_POINTS_COST = 1_000_000


# --- votes --------------------------------------------------------------------------

#: The most prizes (all counts together) one draw gives, and options one vote offers.
MAX_WINNERS = 10_000
MAX_OPTIONS = 26


_LOCAL_MINUTE = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}$")
#: How far ahead a vote or a draw may be scheduled.
MAX_DAYS_AHEAD = 3660


def local_time(text: str, field: str) -> dt.datetime | None:
    """``YYYY-MM-DD HH:MM`` (or ``T`` between) in the programme's time zone, as UTC;
    empty: None. Anything else, or a day that does not exist, is refused."""
    text = text.strip()
    if not text:
        return None
    if not _LOCAL_MINUTE.match(text):
        raise InvalidRequest(f"{field} must be YYYY-MM-DD HH:MM", field=field)
    try:
        naive = dt.datetime.fromisoformat(text.replace(" ", "T"))
    except ValueError:
        raise InvalidRequest(f"{field}: {text} is not a day and time", field=field) from None
    moment = naive.replace(tzinfo=clock.zone()).astimezone(dt.UTC)
    if abs((moment - utcnow()).days) > MAX_DAYS_AHEAD:
        raise InvalidRequest(f"{field} must be within ten years of today", field=field)
    return moment


def _title(title: str, noun: str) -> str:
    title = title.strip()
    if not title or len(title) > 200:
        raise InvalidRequest(f"a {noun} needs a title of at most 200 characters", field="title")
    return title


def _times(opens_at: dt.datetime | None, closes_at: dt.datetime | None) -> tuple[dt.datetime, bool]:
    """When it starts, and whether that is now; a close time must come after it."""
    now = utcnow()
    starts = opens_at if opens_at is not None and opens_at > now else now
    if closes_at is not None and closes_at <= starts:
        raise InvalidRequest("the close time must be after the open time", field="closes_at")
    return starts, starts == now


def open_vote(
    title: str,
    options: Sequence[tuple[str, str]],
    *,
    opens_at: dt.datetime | None = None,
    closes_at: dt.datetime | None = None,
    min_level_rank: int | None = None,
    segment_key: str | None = None,
) -> Vote:
    """Open a vote now, or schedule it for ``opens_at``; ``options`` are (code, label)
    pairs such as ("A", "Red bean"). It closes at ``closes_at`` (or by hand)."""
    title = _title(title, "vote")
    if not 2 <= len(options) <= MAX_OPTIONS:
        raise InvalidRequest(
            f"a vote needs at least two options and at most {MAX_OPTIONS}", field="options"
        )
    starts, now = _times(opens_at, closes_at)
    segment_key = check_rules(min_level_rank, segment_key)
    if now and current_vote() is not None:
        raise CampaignOpen("another vote is open; close it first")
    vote = Vote(
        title=title,
        status="open" if now else "scheduled",
        opens_at=None if now else starts,
        closes_at=closes_at,
        min_level_rank=min_level_rank,
        segment_key=segment_key,
        opened_at=starts if now else None,
    )
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


def get_vote(vote_id: int, *, lock: bool = False) -> Vote:
    vote = db.session.get(Vote, vote_id, with_for_update=lock)
    if vote is None:
        raise NotFound(f"no vote {vote_id}")
    return vote


def close_vote(vote_id: int) -> Vote:
    """Close an open vote and announce its results to the voters (a closed one: no-op)."""
    vote = get_vote(vote_id, lock=True)
    if vote.status == "closed":
        return vote
    if vote.status != "open":
        raise CampaignStatus(f"vote {vote_id} is {vote.status}", status=vote.status)
    vote.status, vote.closed_at = "closed", utcnow()
    db.session.flush()
    announce_results(vote)
    return vote


def cancel_vote(vote_id: int) -> Vote:
    """Cancel a scheduled or open vote: no results are announced (a cancelled one: no-op)."""
    vote = get_vote(vote_id, lock=True)
    if vote.status == "cancelled":
        return vote
    if vote.status == "closed":
        raise CampaignStatus(f"vote {vote_id} is closed", status=vote.status)
    vote.status, vote.cancelled_at = "cancelled", utcnow()
    db.session.flush()
    return vote


def current_vote() -> Vote | None:
    return _current(Vote)


def list_votes(limit: int = 100) -> list[Vote]:
    return list(db.session.scalars(select(Vote).order_by(Vote.id.desc()).limit(limit)))


def _current(model: type[C]) -> C | None:
    """The open vote or draw, the latest if an admin opened several."""
    return db.session.scalar(
        select(model).where(model.status == "open").order_by(model.id.desc()).limit(1)
    )


def _still_open(model: type[C], campaign_id: int) -> bool:
    """Re-read the status under a shared row lock (PostgreSQL ``FOR SHARE``): closing
    takes ``FOR UPDATE``, so it waits for ballots and entries in flight, and those after
    it see it closed. The draw's entry list cannot change under its winners."""
    status = db.session.scalar(
        select(model.status).where(model.id == campaign_id).with_for_update(read=True)
    )
    return status == "open"


def ballot_of(vote: Vote, member: Member) -> VoteBallot | None:
    return db.session.scalar(
        select(VoteBallot).where(VoteBallot.vote_id == vote.id, VoteBallot.member_id == member.id)
    )


def cast_ballot(member: Member, choice: str, *, channel: str) -> VoteBallot:
    """Vote in the open vote by option code (``A``) or label (``red bean``), once."""
    vote = current_vote()
    if vote is None or not _still_open(Vote, vote.id):
        raise NoOpenVote("no vote is open")
    option = _option(vote, choice)
    earlier = ballot_of(vote, member)
    if earlier is not None:
        raise AlreadyVoted("already voted", code=earlier.option.code, title=vote.title)
    why = refusal(member, vote.min_level_rank, vote.segment_key)
    if why is not None:
        raise NotEligible(
            "not eligible", reason=why, min_level_rank=vote.min_level_rank, title=vote.title
        )
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
    return tally(vote)


def ballot_count(vote: Vote) -> int:
    return (
        db.session.scalar(
            select(func.count()).select_from(VoteBallot).where(VoteBallot.vote_id == vote.id)
        )
        or 0
    )


# --- draws --------------------------------------------------------------------------


def open_draw(
    title: str,
    *,
    min_level_rank: int | None = None,
    points_cost: int = 0,
    prizes: Sequence[tuple[str, int]] = (),
    opens_at: dt.datetime | None = None,
    closes_at: dt.datetime | None = None,
    segment_key: str | None = None,
) -> Draw:
    """Open a draw now (its seed committed at once) or schedule it for ``opens_at``.

    ``prizes`` are (name, how many) pairs, the first prize first; winners are drawn at
    ``closes_at`` (or by hand) from the entries, at most as many as the prizes.
    """
    title = _title(title, "draw")
    if isinstance(points_cost, bool) or not 0 <= points_cost <= MAX_POINTS_COST:
        raise InvalidRequest(f"points cost runs from 0 to {MAX_POINTS_COST}", field="points_cost")
    starts, now = _times(opens_at, closes_at)
    segment_key = check_rules(min_level_rank, segment_key)
    if now and current_draw() is not None:
        raise CampaignOpen("another draw is open; close it first")
    draw = Draw(
        title=title,
        status="open" if now else "scheduled",
        min_level_rank=min_level_rank,
        segment_key=segment_key,
        points_cost=points_cost,
        opens_at=None if now else starts,
        closes_at=closes_at,
        opened_at=starts if now else None,
    )
    total = 0
    for position, (name, count) in enumerate(prizes, start=1):
        name = name.strip()
        if not name or len(name) > 200:
            raise InvalidRequest(f"prize {position} needs a name", field="prizes")
        if isinstance(count, bool) or count < 1:
            raise InvalidRequest(f"prize {position} needs at least one winner", field="prizes")
        total += count
        if total > MAX_WINNERS:
            raise InvalidRequest(f"a draw gives at most {MAX_WINNERS} prizes", field="prizes")
        draw.prizes.append(DrawPrize(position=position, name=name, winners=count))
    if now:
        commit_seed(draw)
    db.session.add(draw)
    db.session.flush()
    return draw


def get_draw(draw_id: int, *, lock: bool = False) -> Draw:
    draw = db.session.get(Draw, draw_id, with_for_update=lock)
    if draw is None:
        raise NotFound(f"no draw {draw_id}")
    return draw


def close_draw(draw_id: int) -> Draw:
    """Close an open draw and draw its winners (a drawn one: no-op)."""
    draw = get_draw(draw_id, lock=True)
    if draw.status == "closed":
        return draw
    if draw.status != "open":
        raise CampaignStatus(f"draw {draw_id} is {draw.status}", status=draw.status)
    draw_winners(draw)
    return draw


def cancel_draw(draw_id: int) -> Draw:
    """Cancel a scheduled or open draw; paid entries get their points back."""
    draw = get_draw(draw_id, lock=True)
    if draw.status == "closed":
        raise CampaignStatus(f"draw {draw_id} has been drawn", status=draw.status)
    if draw.status != "cancelled":
        draw.status, draw.cancelled_at = "cancelled", utcnow()
        db.session.flush()
    refund_entries(draw)
    return draw


def current_draw() -> Draw | None:
    return _current(Draw)


def list_draws(limit: int = 100) -> list[Draw]:
    return list(db.session.scalars(select(Draw).order_by(Draw.id.desc()).limit(limit)))


def entry_of(draw: Draw, member: Member) -> DrawEntry | None:
    return db.session.scalar(
        select(DrawEntry).where(DrawEntry.draw_id == draw.id, DrawEntry.member_id == member.id)
    )


def enter_draw(member: Member, *, channel: str) -> DrawEntry:
    """Enter the open draw once; a points cost is paid through the ledger in the same step."""
    draw = current_draw()
    if draw is None or not _still_open(Draw, draw.id):
        raise NoOpenDraw("no draw is open")
    if entry_of(draw, member) is not None:
        raise AlreadyEntered("already entered", title=draw.title)
    why = refusal(member, draw.min_level_rank, draw.segment_key)
    if why is not None:
        raise NotEligible(
            "not eligible", reason=why, min_level_rank=draw.min_level_rank, title=draw.title
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
    return (
        db.session.scalar(
            select(func.count()).select_from(DrawEntry).where(DrawEntry.draw_id == draw.id)
        )
        or 0
    )


# --- the schedule ---------------------------------------------------------------------


def run_schedule(now: dt.datetime) -> dict[str, int]:
    """Open the scheduled votes and draws whose time has come, then close those due.

    Safe to repeat: each step moves a campaign out of the status it looks for, and the
    announcements are keyed. A campaign due to open while another of its kind is open
    waits (``waiting``): SMS members name no campaign, so one is open at a time.
    """
    counts = dict.fromkeys(
        ("votes_opened", "votes_closed", "draws_opened", "draws_drawn", "waiting"), 0
    )
    kinds: tuple[tuple[type[Vote] | type[Draw], str], ...] = ((Vote, "votes"), (Draw, "draws"))
    for model, noun in kinds:
        # Read whole before acting: each step runs statements of its own.
        due: list[Any] = list(
            db.session.scalars(
                select(model)
                .where(model.status == "scheduled", model.opens_at <= now)
                .order_by(model.opens_at, model.id)
                .with_for_update()
            )
        )
        for campaign in due:
            if _current(model) is not None:  # type: ignore[type-var]
                counts["waiting"] += 1
                continue
            campaign.status, campaign.opened_at = "open", now
            if isinstance(campaign, Draw):
                commit_seed(campaign)
            db.session.flush()
            counts[f"{noun}_opened"] += 1
    for vote_id in _due_to_close(Vote, now):
        close_vote(vote_id)
        counts["votes_closed"] += 1
    for draw_id in _due_to_close(Draw, now):
        close_draw(draw_id)
        counts["draws_drawn"] += 1
    return counts


def _due_to_close(model: type[C], now: dt.datetime) -> list[int]:
    return list(
        db.session.scalars(
            select(model.id)
            .where(model.status == "open", model.closes_at.is_not(None), model.closes_at <= now)
            .order_by(model.id)
        )
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
