"""SIGNUP, CANCEL and the rating reply: members take part in club activities;
``app.campaigns.activities`` keeps the rules (places, waiting list, ratings)."""

from __future__ import annotations

from app.bot.registry import Context, command
from app.bot.replies import listing, not_understood, opt_out_hint
from app.campaigns import activities
from app.campaigns.activities import AlreadySignedUp, NotSignedUp, SignupsClosed
from app.campaigns.errors import NotEligible
from app.errors import NotFound
from app.i18n import gettext
from app.members.services import list_levels


def _unknown(code: str) -> str:
    return gettext(
        "There is no activity with the code %(code)s. Text SIGNUP on its own for the list.",
        code=code[:16],
    )


def _open_list(language: str) -> str:
    found = activities.open_activities()
    if not found:
        return gettext("There are no activities open for sign-up right now.")
    items = [f"{a.code} {a.title_in(language)} ({activities.when_text(a)})" for a in found[:5]]
    return gettext(
        "Activities open for sign-up: %(items)s. Text SIGNUP followed by the code, for "
        "example SIGNUP %(code)s.",
        items=listing(items, language),
        code=found[0].code,
    )


@command(
    "activity_signup",
    keywords={"zh-Hans": ("报名", "BM"), "zh-Hant": ("報名",), "en": ("SIGNUP", "SIGN UP")},
)
def signup(ctx: Context) -> str:
    assert ctx.member is not None
    code = ctx.args.strip().upper()
    if not code:
        return _open_list(ctx.language)
    activity = activities.get_activity_or_none(code)
    if activity is None:
        return _unknown(code)
    title = activity.title_in(ctx.language)
    try:
        signed = activities.sign_up(ctx.member, code, channel=ctx.message.channel)
    except SignupsClosed:
        return gettext("“%(title)s” has started: sign-ups are closed.", title=title)
    except NotEligible as exc:
        rank = int(exc.details.get("min_level_rank", 0))
        level = next((lv for lv in list_levels() if lv.rank == rank), None)
        return gettext(
            "Sorry, “%(title)s” is only for members of level %(level)s or above.",
            title=title,
            level=level.name_in(ctx.language) if level is not None else str(rank),
        )
    except AlreadySignedUp as exc:
        earlier = activities.signup_of(activity, ctx.member.id)
        if exc.details.get("status") == "waiting" and earlier is not None:
            return gettext(
                "You are already on the waiting list for “%(title)s” (number %(position)s).",
                title=title,
                position=activities.waiting_position(earlier),
            )
        return gettext(
            "You are already signed up for “%(title)s”. Your check-in code is %(code)s.",
            title=title,
            code=exc.details.get("checkin_code", ""),
        )
    return activities.confirmation_text(activity, signed, ctx.language)


@command(
    "activity_cancel",
    keywords={"zh-Hans": ("取消报名", "QXBM"), "zh-Hant": ("取消報名",)},
    # CANCEL alone is the carriers' opt-out word (an exact keyword of opt_out), and a
    # sentence starting with it ("Cancel my order") is told how to opt out: only CANCEL
    # and one code is a cancelled sign-up.
    pattern=r"CANCEL\s+(?P<args>[A-Z0-9]{1,16})",
)
def cancel(ctx: Context) -> str:
    assert ctx.member is not None
    code = ctx.args.strip().upper()
    if not code:
        return gettext("Text CANCEL followed by the activity's code, for example CANCEL TEA1.")
    activity = activities.get_activity_or_none(code)
    if activity is None:
        # "CANCEL ORDER" (no keyword: the English pattern) meant an opt-out.
        if not ctx.keyword:
            return opt_out_hint()
        return _unknown(code)
    title = activity.title_in(ctx.language)
    try:
        activities.cancel_signup(ctx.member, code)
    except NotSignedUp:
        return gettext("You are not signed up for “%(title)s”.", title=title)
    except SignupsClosed:
        return gettext("“%(title)s” has started: it can no longer be cancelled.", title=title)
    except NotFound:
        return _unknown(code)
    return gettext("Your sign-up for “%(title)s” is cancelled.", title=title)


@command("activity_rating", keywords={}, pattern=r"(?s)(?P<args>[1-5](?![0-9]).*)")
def rating(ctx: Context) -> str:
    """A message starting with 1-5 is a rating only while a rating request is unanswered."""
    assert ctx.member is not None
    pending = activities.pending_rating(ctx.member.id)
    # The comment as the member wrote it (full-width punctuation kept), else as normalised.
    parsed = activities.parse_rating(ctx.message.text or "") or activities.parse_rating(ctx.args)
    if pending is None or parsed is None:
        return not_understood(member=True, channel=ctx.message.channel)
    score, comment = parsed
    activities.rate(pending, score, comment)
    return gettext(
        "Thank you for rating “%(title)s” %(score)s out of 5!",
        title=pending.activity.title_in(ctx.language),
        score=score,
    )
