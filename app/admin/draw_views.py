"""Votes and draws (``campaigns.manage``): list, new, detail with live figures, close, cancel.

Campaigns are the chain's: a marketer or an admin runs them, over
``app.campaigns.services`` (the same services as ``laoyou vote`` / ``laoyou draw`` and the
``campaign_schedule`` job). Times in the forms are local (the programme's ``TIMEZONE``).
Every change is audited (``vote.create``, ``vote.close``, ``vote.cancel``, ``draw.…``).
"""

from __future__ import annotations

from typing import Any

from flask import redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from app.admin.guard import requires
from app.admin.messages import error_text
from app.audit.services import record
from app.campaigns import draws as draw_rules
from app.campaigns import services
from app.campaigns.errors import CampaignStatus
from app.errors import InvalidRequest, LaoyouError
from app.i18n import gettext
from app.members.services import list_levels
from app.phone import mask_phone

#: Longest text any of these forms reads; the services refuse what is still too long.
MAX_INPUT_CHARS = 4000
#: Lines a form's list (options, prizes) may have before it is refused outright.
MAX_LINES = 100


def status_labels() -> dict[str, str]:
    # Msgids of their own: "Open" and "Cancelled" already mean other things elsewhere.
    return {
        "scheduled": gettext("Campaign scheduled"),
        "open": gettext("Campaign open"),
        "closed": gettext("Campaign closed"),
        "cancelled": gettext("Campaign cancelled"),
    }


def _field(name: str) -> str:
    return request.form.get(name, "")[:MAX_INPUT_CHARS]


def _whole(name: str, *, optional: bool = True) -> int | None:
    """A whole number from the form; empty is None (or 0 when not optional)."""
    text = _field(name).strip()
    if not text:
        return None if optional else 0
    if not text.isdigit() or len(text) > 9:
        raise InvalidRequest(f"{name} must be a whole number", field=name)
    return int(text)


def _lines(name: str, shape: str) -> list[tuple[str, str]]:
    """``left=right`` lines (blank lines skipped)."""
    pairs = []
    lines = [line.strip() for line in _field(name).splitlines() if line.strip()]
    if len(lines) > MAX_LINES:
        raise InvalidRequest(f"at most {MAX_LINES} lines", field=name)
    for line in lines:
        left, sep, right = line.partition("=")
        if not sep:
            raise InvalidRequest(f"{line!r} is not {shape}", field=name)
        pairs.append((left.strip(), right.strip()))
    return pairs


def campaign_error(exc: LaoyouError) -> str:
    """A refusal of these forms in the staff member's language."""
    field = exc.details.get("field")
    texts = {
        "title": lambda: gettext("Give a title of at most 200 characters."),
        "options": lambda: gettext(
            "Give two or more options, one a line as CODE=label (letters or digits, each "
            "code once)."
        ),
        "prizes": lambda: gettext(
            "Give prizes one a line as name=how many (at least 1 each, 10000 in all)."
        ),
        "opens_at": lambda: gettext("The open time must be a day and time (YYYY-MM-DD HH:MM)."),
        "closes_at": lambda: gettext(
            "The close time must be a day and time (YYYY-MM-DD HH:MM) after the open time."
        ),
        "points_cost": lambda: gettext("The points cost is a whole number from 0 to 1000000."),
        "min_level_rank": lambda: gettext("The lowest level is a level's rank, a whole number."),
        "segment": lambda: gettext("No saved segment has that name: see the Segments page."),
    }
    if isinstance(field, str) and field in texts:
        return texts[field]()
    if exc.code == "campaign_open":
        return gettext("Another one is open: close it first, or schedule this one for later.")
    if exc.code == "campaign_status":
        return gettext(
            "Not possible now: it is %(status)s.",
            status=status_labels().get(str(exc.details.get("status")), ""),
        )
    return error_text(exc)


def _form_page(kind: str, form: Any = None, error: str | None = None) -> str:
    return render_template(
        f"admin/{kind}s_new.html",
        form=form or {},
        error=error,
        levels=list_levels(),
    )


# --- votes ------------------------------------------------------------------------------


@requires("campaigns.manage")
def votes() -> str:
    found = services.list_votes()
    return render_template(
        "admin/votes.html",
        votes=[(v, services.ballot_count(v)) for v in found],
        status_labels=status_labels(),
    )


@requires("campaigns.manage")
def vote_new() -> Response | str | tuple[str, int]:
    if request.method == "GET":
        return _form_page("vote")
    try:
        vote = services.open_vote(
            _field("title"),
            _lines("options", "CODE=label"),
            opens_at=services.local_time(_field("opens_at"), "opens_at"),
            closes_at=services.local_time(_field("closes_at"), "closes_at"),
            min_level_rank=_whole("min_level_rank"),
            segment_key=_field("segment"),
        )
    except LaoyouError as exc:
        return _form_page("vote", request.form, campaign_error(exc)), 400
    record(
        "vote.create",
        "vote",
        vote.id,
        after={
            "title": vote.title,
            "status": vote.status,
            "options": [f"{o.code}={o.label}" for o in vote.options],
        },
    )
    return redirect(url_for("admin.vote_detail", vote_id=vote.id))


@requires("campaigns.manage")
def vote_detail(vote_id: int) -> str:
    return _vote_page(vote_id)


def _vote_page(vote_id: int, error: str | None = None) -> str:
    vote = services.get_vote(vote_id)
    results = services.vote_results(vote)
    total = sum(n for _, n in results)
    return render_template(
        "admin/vote.html",
        vote=vote,
        results=results,
        total=total,
        status_labels=status_labels(),
        done=request.args.get("done"),
        error=error,
    )


@requires("campaigns.manage")
def vote_close(vote_id: int) -> Response | tuple[str, int]:
    try:
        vote = services.close_vote(vote_id)
    except CampaignStatus as exc:
        return _vote_page(vote_id, campaign_error(exc)), exc.status
    record("vote.close", "vote", vote.id, after={"status": vote.status})
    return redirect(url_for("admin.vote_detail", vote_id=vote.id, done="closed"))


@requires("campaigns.manage")
def vote_cancel(vote_id: int) -> Response | tuple[str, int]:
    try:
        vote = services.cancel_vote(vote_id)
    except CampaignStatus as exc:
        return _vote_page(vote_id, campaign_error(exc)), exc.status
    record("vote.cancel", "vote", vote.id, after={"status": vote.status})
    return redirect(url_for("admin.vote_detail", vote_id=vote.id, done="cancelled"))


# --- draws ------------------------------------------------------------------------------


@requires("campaigns.manage")
def draws() -> str:
    found = services.list_draws()
    return render_template(
        "admin/draws.html",
        draws=[(d, services.entry_count(d)) for d in found],
        status_labels=status_labels(),
    )


@requires("campaigns.manage")
def draw_new() -> Response | str | tuple[str, int]:
    if request.method == "GET":
        return _form_page("draw")
    try:
        prizes = []
        for name, count in _lines("prizes", "name=how many"):
            if not count.isdigit() or len(count) > 6:
                raise InvalidRequest(f"{count!r} is not a number of winners", field="prizes")
            prizes.append((name, int(count)))
        if not prizes:
            raise InvalidRequest("a draw needs a prize", field="prizes")
        draw = services.open_draw(
            _field("title"),
            prizes=prizes,
            points_cost=_whole("points_cost", optional=False) or 0,
            opens_at=services.local_time(_field("opens_at"), "opens_at"),
            closes_at=services.local_time(_field("closes_at"), "closes_at"),
            min_level_rank=_whole("min_level_rank"),
            segment_key=_field("segment"),
        )
    except LaoyouError as exc:
        return _form_page("draw", request.form, campaign_error(exc)), 400
    record(
        "draw.create",
        "draw",
        draw.id,
        after={
            "title": draw.title,
            "status": draw.status,
            "points_cost": draw.points_cost,
            "prizes": [f"{p.name}={p.winners}" for p in draw.prizes],
            "seed_sha256": draw.seed_sha256,
        },
    )
    return redirect(url_for("admin.draw_detail", draw_id=draw.id))


@requires("campaigns.manage")
def draw_detail(draw_id: int) -> str:
    return _draw_page(draw_id)


def _draw_page(draw_id: int, error: str | None = None) -> str:
    draw = services.get_draw(draw_id)
    winners = draw_rules.winners_of(draw)
    return render_template(
        "admin/draw.html",
        draw=draw,
        entries=services.entry_count(draw),
        winners=winners,
        phones={w.member_id: mask_phone(w.member.phone) for w in winners},
        check=draw_rules.verify(draw) if draw.status == "closed" else None,
        status_labels=status_labels(),
        done=request.args.get("done"),
        error=error,
    )


@requires("campaigns.manage")
def draw_close(draw_id: int) -> Response | tuple[str, int]:
    try:
        draw = services.close_draw(draw_id)
    except CampaignStatus as exc:
        return _draw_page(draw_id, campaign_error(exc)), exc.status
    record(
        "draw.close",
        "draw",
        draw.id,
        after={
            "status": draw.status,
            "entries_sha256": draw.entries_sha256,
            "winners": [w.entry_id for w in draw_rules.winners_of(draw)],
        },
    )
    return redirect(url_for("admin.draw_detail", draw_id=draw.id, done="closed"))


@requires("campaigns.manage")
def draw_cancel(draw_id: int) -> Response | tuple[str, int]:
    try:
        draw = services.cancel_draw(draw_id)
    except CampaignStatus as exc:
        return _draw_page(draw_id, campaign_error(exc)), exc.status
    record("draw.cancel", "draw", draw.id, after={"status": draw.status})
    return redirect(url_for("admin.draw_detail", draw_id=draw.id, done="cancelled"))
