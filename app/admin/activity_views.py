"""Club activities in the panel (``campaigns.manage``): the list, a new activity, and one
activity's sign-up, attendance and rating figures with its members (phones masked).

Activities are the chain's; a staff member whose scope is some stores (a store manager
granted ``campaigns.manage``) sees only their stores' members in an activity's list.
"""

from __future__ import annotations

import datetime as dt
import re

from flask import abort, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from app import clock
from app.admin.guard import current_staff, requires
from app.auth.permissions import store_scope
from app.campaigns import activities
from app.campaigns.activity_models import Activity
from app.errors import InvalidRequest
from app.i18n import gettext
from app.members.services import list_levels

#: Longest text a field of the form reads; the services refuse what is longer than theirs.
MAX_INPUT_CHARS = 400
_WHOLE = re.compile(r"^[0-9]{1,12}$")
#: ``<input type="datetime-local">`` sends 2027-01-31T14:00 (local time).
_LOCAL_TIME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})$")


def _field(name: str) -> str:
    return request.form.get(name, "")[:MAX_INPUT_CHARS].strip()


def _whole(name: str, *, required: bool) -> int | None:
    text = _field(name)
    if not text and not required:
        return None
    if not _WHOLE.match(text):
        raise InvalidRequest(f"{name} must be a whole number", field=name)
    return int(text)


def _moment(name: str) -> dt.datetime:
    found = _LOCAL_TIME.match(_field(name))
    try:
        if found is None:
            raise ValueError
        year, month, day, hour, minute = (int(part) for part in found.groups())
        if not 2000 <= year <= 2099:
            raise ValueError
        local = dt.datetime(year, month, day, hour, minute, tzinfo=clock.zone())
    except ValueError:
        raise InvalidRequest(f"{name} is not a date and time", field=name) from None
    return local.astimezone(dt.UTC)


def _refusal(exc: InvalidRequest) -> str:
    field = exc.details.get("field")
    if field == "code":
        if exc.details.get("reason") == "taken":
            return gettext("That code is taken by another activity.")
        return gettext("The code is 1 to 16 letters or digits.")
    if field in ("title", "zh-Hans", "zh-Hant", "en"):
        return gettext("Give a title in Simplified Chinese; each title has at most 200 characters.")
    if field == "place":
        return gettext("Give the place, at most 200 characters.")
    if field in ("starts_at", "ends_at"):
        return gettext("Give the start and the end as dates and times; the end after the start.")
    if field == "capacity":
        return gettext("The capacity is a whole number from 1 to 100,000.")
    if field == "points":
        return gettext("Points for attending are a whole number, 0 or more.")
    return gettext("The minimum level is not one of the programme's levels.")


@requires("campaigns.manage")
def activities_list() -> str:
    listed = activities.list_activities()
    return render_template(
        "admin/activities.html",
        activities=listed,
        stats={a.id: activities.statistics(a) for a in listed},
        now=clock.now(),
        done=request.args.get("done", "")[:16],
    )


def _new_page(error: str | None = None, form: object = None) -> str:
    return render_template(
        "admin/activity_new.html", levels=list_levels(), form=form or {}, error=error
    )


@requires("campaigns.manage")
def activity_new() -> Response | str | tuple[str, int]:
    if request.method == "GET":
        return _new_page()
    try:
        rank = _whole("min_level_rank", required=False)
        if rank is not None and rank not in {level.rank for level in list_levels()}:
            raise InvalidRequest("no such level", field="min_level_rank")
        activity = activities.create_activity(
            code=_field("code"),
            titles={
                "zh-Hans": _field("title_zh_hans"),
                "zh-Hant": _field("title_zh_hant"),
                "en": _field("title_en"),
            },
            place=_field("place"),
            starts_at=_moment("starts_at"),
            ends_at=_moment("ends_at"),
            capacity=_whole("capacity", required=True) or 0,
            min_level_rank=rank,
            points=_whole("points", required=False) or 0,
        )
    except InvalidRequest as exc:
        return _new_page(_refusal(exc), request.form), 400
    return redirect(url_for("admin.activity_detail", code=activity.code, done="created"))


def _activity_or_404(code: str) -> Activity:
    found = activities.get_activity_or_none(code[:32])
    if found is None:
        abort(404)
    return found


@requires("campaigns.manage")
def activity_detail(code: str) -> str:
    activity = _activity_or_404(code)
    staff = current_staff()
    assert staff is not None
    scope = store_scope(staff)
    rows = [
        activities.member_summary(s)
        for s in activities.activity_signups(activity)
        if scope is None or s.member.home_store_id in scope
    ]
    return render_template(
        "admin/activity_detail.html",
        activity=activity,
        stats=activities.statistics(activity),
        rows=rows,
        levels={level.rank: level for level in list_levels()},
        done=request.args.get("done", "")[:16],
    )
