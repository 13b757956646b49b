"""VOTE, DRAW and MSG: the member takes part; ``app.campaigns`` keeps the rules."""

from __future__ import annotations

from app.bot.registry import Context, command
from app.bot.replies import listing, number
from app.campaigns import services
from app.campaigns.errors import (
    AlreadyEntered,
    AlreadyVoted,
    NoOpenDraw,
    NoOpenVote,
    NotEligible,
    UnknownOption,
)
from app.campaigns.models import Vote
from app.i18n import gettext
from app.members.models import Level


def _options(vote: Vote, language: str) -> str:
    return listing([f"{o.code} = {o.label}" for o in vote.options], language)


@command("vote", keywords={"zh-Hans": ("投票", "TP"), "zh-Hant": ("投票",), "en": ("VOTE",)})
def vote(ctx: Context) -> str:
    assert ctx.member is not None
    current = services.current_vote()
    if current is None:
        return gettext("There is no vote open right now.")
    if not ctx.args:
        return gettext(
            "Vote “%(title)s”: text VOTE followed by one of %(options)s.",
            title=current.title,
            options=_options(current, ctx.language),
        )
    try:
        ballot = services.cast_ballot(ctx.member, ctx.args, channel=ctx.message.channel)
    except NoOpenVote:
        return gettext("There is no vote open right now.")
    except UnknownOption as exc:
        return gettext(
            "“%(choice)s” is not an option. Text VOTE followed by one of %(options)s.",
            choice=str(exc.details.get("choice", ""))[:20],
            options=_options(current, ctx.language),
        )
    except NotEligible:
        return gettext("Sorry, the vote “%(title)s” is not open to you.", title=current.title)
    except AlreadyVoted as exc:
        return gettext(
            "You have already voted (%(code)s) in “%(title)s”: one vote per member.",
            code=exc.details.get("code", ""),
            title=current.title,
        )
    return gettext(
        "Thank you! Your vote for %(code)s (%(label)s) in “%(title)s” is counted.",
        code=ballot.option.code,
        label=ballot.option.label,
        title=current.title,
    )


@command("draw", keywords={"zh-Hans": ("抽奖", "CJ"), "zh-Hant": ("抽獎",), "en": ("DRAW",)})
def draw(ctx: Context) -> str:
    from app.ledger.balances import member_balances

    assert ctx.member is not None
    try:
        entry = services.enter_draw(ctx.member, channel=ctx.message.channel)
    except NoOpenDraw:
        return gettext("There is no draw open right now.")
    except AlreadyEntered as exc:
        return gettext(
            "You are already in the draw “%(title)s”. Good luck!",
            title=exc.details.get("title", ""),
        )
    except NotEligible as exc:
        title = exc.details.get("title", "")
        if exc.details.get("reason") == "level":
            return gettext(
                "Sorry, the draw “%(title)s” is only for members of level %(level)s or above.",
                title=title,
                level=_level_name(int(exc.details["min_level_rank"]), ctx.language),
            )
        if exc.details.get("reason") == "segment":
            return gettext("Sorry, the draw “%(title)s” is not open to you.", title=title)
        return gettext(
            "Entering the draw “%(title)s” costs %(cost)s points; you have %(points)s.",
            title=title,
            cost=number(int(exc.details.get("cost", 0))),
            points=number(member_balances(ctx.member.id).points),
        )
    title = services.current_draw().title  # type: ignore[union-attr]
    if entry.points_paid:
        return gettext(
            "You are in the draw “%(title)s”; %(cost)s points were used, %(points)s left. "
            "Good luck!",
            title=title,
            cost=number(entry.points_paid),
            points=number(member_balances(ctx.member.id).points),
        )
    return gettext("You are in the draw “%(title)s”. Good luck!", title=title)


def _level_name(rank: int, language: str) -> str:
    from sqlalchemy import select

    from app.db import db

    level = db.session.scalar(select(Level).where(Level.rank == rank))
    return level.name_in(language) if level is not None else str(rank)


@command("message", keywords={"zh-Hans": ("留言", "LY"), "zh-Hant": ("留言",), "en": ("MSG",)})
def message(ctx: Context) -> str:
    assert ctx.member is not None
    if not ctx.raw_args:
        return gettext("Text MSG followed by your message, for example: MSG The new tea is lovely.")
    note = services.leave_message(ctx.member, ctx.raw_args, channel=ctx.message.channel)
    return gettext(
        "Thank you! Your message has been passed to %(store)s; the staff will read it soon.",
        store=note.store.name,
    )
