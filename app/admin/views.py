"""Signing in and out, the language switch, the dashboard, one's own password."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import redirect, render_template, request, session, url_for
from flask_login import login_user, logout_user
from werkzeug.wrappers import Response

from app import clock
from app.admin.guard import (
    SignedIn,
    current_staff,
    may,
    public,
    safe_next,
    signed_in,
)
from app.admin.messages import error_text
from app.auth.models import STAFF_LANGUAGES
from app.auth.permissions import store_scope
from app.auth.services import authenticate_staff, change_password, set_language
from app.cards.services import count_cards
from app.db import db, finish_failed
from app.errors import AccountLocked, InvalidRequest, SignInFailed
from app.i18n import gettext
from app.ledger.balances import count_transactions
from app.members.services import count_members
from app.reports.registry import REPORTS
from app.reports.today import day_figures
from app.stores.services import list_stores

#: Longest username or password the sign-in form reads; anything longer is refused unread.
MAX_FIELD_CHARS = 200


def rooms() -> list[dict[str, Any]]:
    """The panel's rooms the signed-in staff member may enter, in the navigation's order.

    Each room names the permission its views require, so a link is never shown to someone
    the page would refuse, and its group (``room_groups``): the panel has some twenty
    rooms, too many for one row a staff member could scan.
    """
    members = gettext("Members and balances")
    marketing = gettext("Marketing")
    figures = gettext("Reports and operations")
    settings = gettext("Settings")
    every = [
        (None, "admin.dashboard", gettext("Dashboard"), None),
        (members, "admin.member_search", gettext("Members"), "members.view"),
        (members, "admin.adjust_page", gettext("Adjust a balance"), "balances.adjust"),
        (members, "admin.approvals_page", gettext("Approvals"), "balances.approve"),
        (marketing, "admin.segments_list", gettext("Segments"), "campaigns.manage"),
        (marketing, "admin.broadcasts_list", gettext("Broadcasts"), "campaigns.manage"),
        (marketing, "admin.promotions", gettext("Promotions"), "campaigns.manage"),
        (marketing, "admin.activities", gettext("Activities"), "campaigns.manage"),
        (marketing, "admin.votes", gettext("Votes"), "campaigns.manage"),
        (marketing, "admin.draws", gettext("Draws"), "campaigns.manage"),
        (figures, "admin.reports", gettext("Reports"), "reports.view"),
        (figures, "admin.jobs", gettext("Scheduled jobs"), "jobs.view"),
        (figures, "admin.audit", gettext("Audit log"), "audit.view"),
        (figures, "admin.system", gettext("System"), "audit.view"),
        (settings, "admin.rules", gettext("Rules"), "rules.view"),
        (settings, "admin.texts", gettext("Message texts"), "rules.view"),
        (settings, "admin.questions", gettext("Questionnaire"), "rules.view"),
        (settings, "admin.stores", gettext("Stores"), "stores.manage"),
        (settings, "admin.staff_list", gettext("Staff"), "staff.manage"),
        (settings, "admin.api_keys", gettext("API keys"), "api_keys.manage"),
    ]
    if current_staff() is None:
        return []
    return [
        {"endpoint": endpoint, "label": label, "group": group}
        for group, endpoint, label, permission in every
        if permission is None or may(permission)
    ]


def room_groups(visible: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``visible`` rooms gathered under their groups, in order; a group with no room the
    staff member may enter is left out."""
    groups: list[dict[str, Any]] = []
    for room in visible:
        if not groups or groups[-1]["label"] != room["group"]:
            groups.append({"label": room["group"], "rooms": []})
        groups[-1]["rooms"].append(room)
    return groups


@public
def login() -> Response | str | tuple[str, int]:
    if current_staff() is not None and request.method == "GET":
        return redirect(safe_next(request.args.get("next")))
    next_path = request.values.get("next", "")
    if request.method == "GET":
        return render_template("admin/login.html", next=next_path, username="")
    username = request.form.get("username", "")[:MAX_FIELD_CHARS]
    password = request.form.get("password", "")
    try:
        staff = authenticate_staff(username, password[: MAX_FIELD_CHARS + 1])
    except (SignInFailed, AccountLocked) as exc:
        finish_failed(db.session(), exc)  # the failed-attempt count stays
        status = exc.status
        return (
            render_template(
                "admin/login.html", next=next_path, username=username, error=error_text(exc)
            ),
            status,
        )
    session.clear()  # a new session at sign-in: no fixation
    login_user(SignedIn(staff))
    return redirect(safe_next(next_path))


@signed_in
def logout() -> Response:
    logout_user()
    session.clear()
    return redirect(url_for("admin.login"))


@public
def language() -> Response:
    """The language switch: the signed-in staff member's own setting, else this browser's."""
    chosen = request.form.get("language", "")
    if chosen in STAFF_LANGUAGES:
        staff = current_staff()
        if staff is not None:
            set_language(staff, chosen)
        session["admin_language"] = chosen
    return redirect(safe_next(request.form.get("next")))


@signed_in
def dashboard() -> str:
    staff = current_staff()
    assert staff is not None
    scope = store_scope(staff)
    today = clock.local_today()
    start = dt.datetime.combine(today, dt.time(), tzinfo=clock.zone())
    stores = [s for s in list_stores() if scope is None or s.id in scope]
    return render_template(
        "admin/dashboard.html",
        members=count_members(scope),
        cards=count_cards(scope),
        transactions_today=count_transactions(start, start + dt.timedelta(days=1), scope),
        today=today,
        figures=day_figures(db.session(), today, scope),
        report_names=frozenset(REPORTS),
        stores=stores,
        all_stores=scope is None,
    )


@signed_in
def password() -> Response | str | tuple[str, int]:
    staff = current_staff()
    assert staff is not None
    if request.method == "GET":
        return render_template("admin/password.html")
    new = request.form.get("new_password", "")
    if new != request.form.get("confirm_password", ""):
        return render_template(
            "admin/password.html", error=gettext("The two new passwords differ.")
        ), 400
    try:
        change_password(staff, request.form.get("old_password", ""), new)
    except InvalidRequest as exc:
        return render_template("admin/password.html", error=error_text(exc)), 400
    # The change ended every session, this one too: sign this one in again.
    login_user(SignedIn(staff))
    return redirect(url_for("admin.dashboard", changed=1))
