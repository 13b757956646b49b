"""Every /admin route × every role: the expected answer, from a table checked against the URL map.

A new /admin route fails ``test_the_table_covers_every_admin_route`` until it is added to
the table with its answers, and ``test_every_admin_view_declares_its_access`` until its view
goes through ``app.admin.guard`` (``requires``, ``signed_in`` or ``public``).
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from app.db import db
from app.messaging.alerts import TRANSACTION_TEXTS
from app.texts.services import msgid_key
from tests.admin.conftest import ROLES, Staff, csrf_token

ANON = "anonymous"
#: A staff member every URL with <username> points at (a cashier of SH01).
TARGET = "target1"

R, F = 302, 403  # redirect; forbidden


def _only_admin(ok: int) -> dict[str, int]:
    return {ANON: R, "admin": ok, "marketer": F, "store_manager": F, "cashier": F}


def _adjusters(ok: int) -> dict[str, int]:
    return {ANON: R, "admin": ok, "marketer": F, "store_manager": ok, "cashier": F}


def _card_actors(ok: int) -> dict[str, int]:
    return {ANON: R, "admin": ok, "marketer": F, "store_manager": ok, "cashier": ok}


def _member_editors(ok: int) -> dict[str, int]:
    return {ANON: R, "admin": ok, "marketer": F, "store_manager": ok, "cashier": F}


def _chain_viewers(ok: int) -> dict[str, int]:
    """members.view for the whole chain: admin and marketer, not a store's staff."""
    return {ANON: R, "admin": ok, "marketer": ok, "store_manager": F, "cashier": F}


def _rules_viewers(ok: int) -> dict[str, int]:
    return {ANON: R, "admin": ok, "marketer": ok, "store_manager": ok, "cashier": F}


def _report_viewers(ok: int) -> dict[str, int]:
    """reports.view: admin, marketer and store manager (their own store), not a cashier."""
    return {ANON: R, "admin": ok, "marketer": ok, "store_manager": ok, "cashier": F}


def _marketers(ok: int) -> dict[str, int]:
    """campaigns.manage: admin and marketer."""
    return {ANON: R, "admin": ok, "marketer": ok, "store_manager": F, "cashier": F}


def _everyone(ok: int, anonymous: int = R) -> dict[str, int]:
    return {ANON: anonymous, **dict.fromkeys(ROLES, ok)}


#: The checkout alert's key, for the message-text pages.
TEXT = msgid_key(TRANSACTION_TEXTS["checkout"])

#: (endpoint, method) -> (path, form data, {who: status}). Signed-in staff on the sign-in
#: page go on to the dashboard (302); an anonymous visitor elsewhere goes to the sign-in page.
TABLE: dict[tuple[str, str], tuple[str, dict[str, str], dict[str, int]]] = {
    ("admin.login", "GET"): ("/admin/login", {}, _everyone(R, anonymous=200)),
    ("admin.login", "POST"): (
        "/admin/login",
        {"username": "nobody", "password": "wrong password"},
        _everyone(401, anonymous=401),
    ),
    ("admin.logout", "POST"): ("/admin/logout", {}, _everyone(R)),
    ("admin.language", "POST"): ("/admin/language", {"language": "en"}, _everyone(R, R)),
    ("admin.dashboard", "GET"): ("/admin/", {}, _everyone(200)),
    ("admin.password", "GET"): ("/admin/password", {}, _everyone(200)),
    ("admin.password", "POST"): ("/admin/password", {"old_password": "x"}, _everyone(400)),
    ("admin.staff_list", "GET"): ("/admin/staff", {}, _only_admin(200)),
    ("admin.staff_new", "GET"): ("/admin/staff/new", {}, _only_admin(200)),
    ("admin.staff_new", "POST"): ("/admin/staff/new", {"username": "x"}, _only_admin(400)),
    ("admin.staff_detail", "GET"): (f"/admin/staff/{TARGET}", {}, _only_admin(200)),
    ("admin.staff_reset", "POST"): (f"/admin/staff/{TARGET}/password", {}, _only_admin(400)),
    ("admin.staff_disable", "POST"): (f"/admin/staff/{TARGET}/disable", {}, _only_admin(R)),
    ("admin.staff_permissions", "POST"): (
        f"/admin/staff/{TARGET}/permissions",
        {"perm:audit.view": "grant"},
        _only_admin(R),
    ),
    ("admin.adjust_page", "GET"): ("/admin/adjust", {}, _adjusters(200)),
    ("admin.adjust_post", "POST"): ("/admin/adjust", {"card": "nothing"}, _adjusters(400)),
    ("admin.approvals_page", "GET"): ("/admin/approvals", {}, _only_admin(200)),
    ("admin.approval_approve", "POST"): ("/admin/approvals/999999/approve", {}, _only_admin(404)),
    ("admin.approval_reject", "POST"): ("/admin/approvals/999999/reject", {}, _only_admin(404)),
    ("admin.audit", "GET"): ("/admin/audit", {}, _only_admin(200)),
    ("admin.audit_csv", "GET"): ("/admin/audit.csv", {}, _only_admin(200)),
    ("admin.jobs", "GET"): ("/admin/jobs", {}, _only_admin(200)),
    ("admin.system", "GET"): ("/admin/system", {}, _only_admin(200)),
    ("admin.job_run", "POST"): ("/admin/jobs/outbox_sweep/run", {}, _only_admin(R)),
    ("admin.member_search", "GET"): ("/admin/members?q=138", {}, _everyone(200)),
    # An unknown member is 404 for those who may look, 403 for the others.
    ("admin.member_page", "GET"): ("/admin/members/999999", {}, _everyone(404)),
    ("admin.member_edit", "GET"): ("/admin/members/999999/edit", {}, _member_editors(404)),
    ("admin.member_edit", "POST"): ("/admin/members/999999/edit", {}, _member_editors(404)),
    ("admin.card_action", "POST"): (
        "/admin/cards/999999999/action",
        {"action": "freeze", "reason": "x"},
        _card_actors(404),
    ),
    # Batch issue, import and export span the chain: a store's staff are refused.
    ("admin.cards_issue", "GET"): ("/admin/cards/issue", {}, _only_admin(200)),
    ("admin.cards_issue", "POST"): ("/admin/cards/issue", {"count": "0"}, _only_admin(400)),
    ("admin.members_import", "GET"): ("/admin/members/import", {}, _only_admin(200)),
    ("admin.members_import", "POST"): ("/admin/members/import", {}, _only_admin(400)),
    ("admin.members_export", "GET"): ("/admin/members/export.csv", {}, _chain_viewers(200)),
    ("admin.texts", "GET"): ("/admin/texts", {}, _rules_viewers(200)),
    ("admin.text_detail", "GET"): (f"/admin/texts/{TEXT}", {}, _rules_viewers(200)),
    ("admin.text_save", "POST"): (
        f"/admin/texts/{TEXT}",
        {"language": "en", "text": "no placeholders"},
        _only_admin(400),
    ),
    ("admin.text_reset", "POST"): (
        f"/admin/texts/{TEXT}/reset",
        {"language": "en"},
        _only_admin(R),
    ),
    ("admin.text_preview", "POST"): (
        f"/admin/texts/{TEXT}/preview",
        {"language": "en", "text": "no placeholders"},
        _only_admin(400),
    ),
    ("admin.rules", "GET"): ("/admin/rules", {}, _rules_viewers(200)),
    ("admin.rules_export", "GET"): ("/admin/rules/rules.json", {}, _rules_viewers(200)),
    ("admin.rules_alerts", "GET"): ("/admin/rules/alerts", {}, _rules_viewers(200)),
    ("admin.rules_alerts_post", "POST"): (
        "/admin/rules/alerts",
        {"alert:transaction": "on"},
        _only_admin(R),
    ),
    ("admin.rules_quiet_hours_post", "POST"): (
        "/admin/rules/alerts/quiet-hours",
        {"start": "9pm", "end": "09:00"},
        _only_admin(400),
    ),
    ("admin.rules_json", "GET"): ("/admin/rules/json/levels", {}, _rules_viewers(200)),
    ("admin.rules_json_post", "POST"): (
        "/admin/rules/json/levels",
        {"document": "not json"},
        _only_admin(400),
    ),
    ("admin.rules_section", "GET"): ("/admin/rules/levels", {}, _rules_viewers(200)),
    ("admin.rules_section_post", "POST"): (
        "/admin/rules/levels",
        {"rows": "1", "0.name": "x", "0.rank": "not a number"},
        _only_admin(400),
    ),
    ("admin.stores", "GET"): ("/admin/stores", {}, _only_admin(200)),
    ("admin.store_create", "POST"): ("/admin/stores", {"code": ""}, _only_admin(400)),
    ("admin.store_edit", "GET"): ("/admin/stores/SH01", {}, _only_admin(200)),
    ("admin.store_edit", "POST"): ("/admin/stores/SH01", {"name": ""}, _only_admin(400)),
    ("admin.api_keys", "GET"): ("/admin/api-keys", {}, _only_admin(200)),
    ("admin.api_key_create", "POST"): ("/admin/api-keys", {"store": "NOPE"}, _only_admin(409)),
    ("admin.api_key_revoke", "GET"): ("/admin/api-keys/999999/revoke", {}, _only_admin(404)),
    ("admin.api_key_revoke", "POST"): ("/admin/api-keys/999999/revoke", {}, _only_admin(404)),
    ("admin.questions", "GET"): (
        "/admin/questions",
        {},
        {ANON: R, "admin": 200, "marketer": 200, "store_manager": 200, "cashier": F},
    ),
    ("admin.question_add", "POST"): ("/admin/questions", {"key": ""}, _only_admin(400)),
    ("admin.question_retire", "POST"): ("/admin/questions/nope/retire", {}, _only_admin(404)),
    ("admin.activities", "GET"): ("/admin/activities", {}, _chain_viewers(200)),
    ("admin.activity_new", "GET"): ("/admin/activities/new", {}, _chain_viewers(200)),
    ("admin.activity_new", "POST"): ("/admin/activities/new", {"code": ""}, _chain_viewers(400)),
    ("admin.activity_detail", "GET"): ("/admin/activities/NOPE", {}, _chain_viewers(404)),
    ("admin.votes", "GET"): ("/admin/votes", {}, _marketers(200)),
    ("admin.vote_new", "GET"): ("/admin/votes/new", {}, _marketers(200)),
    ("admin.vote_new", "POST"): ("/admin/votes/new", {"title": ""}, _marketers(400)),
    ("admin.vote_detail", "GET"): ("/admin/votes/999999", {}, _marketers(404)),
    ("admin.vote_close", "POST"): ("/admin/votes/999999/close", {}, _marketers(404)),
    ("admin.vote_cancel", "POST"): ("/admin/votes/999999/cancel", {}, _marketers(404)),
    ("admin.draws", "GET"): ("/admin/draws", {}, _marketers(200)),
    ("admin.draw_new", "GET"): ("/admin/draws/new", {}, _marketers(200)),
    ("admin.draw_new", "POST"): ("/admin/draws/new", {"title": "x"}, _marketers(400)),
    ("admin.draw_detail", "GET"): ("/admin/draws/999999", {}, _marketers(404)),
    ("admin.draw_close", "POST"): ("/admin/draws/999999/close", {}, _marketers(404)),
    ("admin.draw_cancel", "POST"): ("/admin/draws/999999/cancel", {}, _marketers(404)),
    ("admin.reports", "GET"): ("/admin/reports", {}, _report_viewers(200)),
    ("admin.report", "GET"): ("/admin/reports/members", {}, _report_viewers(200)),
    ("admin.segments_list", "GET"): ("/admin/segments", {}, _marketers(200)),
    ("admin.segment_new", "GET"): ("/admin/segments/new", {}, _marketers(200)),
    ("admin.segment_new", "POST"): ("/admin/segments/new", {"name": ""}, _marketers(400)),
    ("admin.segment_preview", "POST"): (
        "/admin/segments/preview",
        {"definition": "not json"},
        _marketers(400),
    ),
    ("admin.segment_edit", "GET"): ("/admin/segments/999999", {}, _marketers(404)),
    ("admin.segment_edit", "POST"): ("/admin/segments/999999", {}, _marketers(404)),
    ("admin.broadcasts_list", "GET"): ("/admin/broadcasts", {}, _marketers(200)),
    ("admin.broadcast_new", "GET"): ("/admin/broadcasts/new", {}, _marketers(200)),
    ("admin.broadcast_new", "POST"): ("/admin/broadcasts/new", {"title": ""}, _marketers(400)),
    ("admin.broadcast_detail", "GET"): ("/admin/broadcasts/999999", {}, _marketers(404)),
    ("admin.broadcast_cancel", "POST"): ("/admin/broadcasts/999999/cancel", {}, _marketers(404)),
    ("admin.promotions", "GET"): ("/admin/promotions", {}, _marketers(200)),
    ("admin.promotion_new", "GET"): ("/admin/promotions/new", {}, _marketers(200)),
    ("admin.promotion_new", "POST"): (
        "/admin/promotions/new",
        {"name_en": "x", "starts_at": "not a date"},
        _marketers(400),
    ),
    ("admin.promotion_page", "GET"): ("/admin/promotions/999999", {}, _marketers(404)),
    ("admin.promotion_save", "POST"): ("/admin/promotions/999999", {}, _marketers(404)),
    ("admin.promotion_end", "POST"): ("/admin/promotions/999999/end", {}, _marketers(404)),
}


def admin_routes(app: Flask) -> set[tuple[str, str]]:
    return {
        (rule.endpoint, method)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/admin")
        for method in rule.methods or ()
        if method not in ("HEAD", "OPTIONS")
    }


def test_the_table_covers_every_admin_route(app: Flask) -> None:
    routes = admin_routes(app)
    assert routes - TABLE.keys() == set(), "add each new /admin route to TABLE with its answers"
    assert TABLE.keys() - routes == set(), "a route in TABLE no longer exists"


def test_every_admin_view_declares_its_access(app: Flask) -> None:
    undeclared = sorted(
        endpoint
        for endpoint, _method in admin_routes(app)
        if not hasattr(app.view_functions[endpoint], "admin_access")
    )
    assert undeclared == []


ROUTES = [pytest.param(key, id=f"{key[1]} {key[0]}") for key in TABLE]


@pytest.mark.parametrize("key", ROUTES)
def test_route_answers_each_role_as_the_table_says(
    app: Flask, make_staff: Any, signed_in: Any, key: tuple[str, str]
) -> None:
    """Every role in turn, each in a savepoint rolled back after it: what one role's request
    changed (a form the admin may post) is gone before the next one asks. One app per route,
    not per route and role: making the app was two thirds of this module's time."""
    path, data, expected = TABLE[key]
    outer = app.extensions["laoyou.db"].connection
    answers: dict[str, int] = {}
    for who in (ANON, *ROLES):
        savepoint = outer.begin_nested()
        try:
            answers[who] = _answer(app, make_staff, signed_in, key, path, data, who)
        finally:
            db.session.remove()
            savepoint.rollback()
    assert answers == expected


def _answer(
    app: Flask,
    make_staff: Any,
    signed_in: Any,
    key: tuple[str, str],
    path: str,
    data: dict[str, str],
    who: str,
) -> int:
    make_staff(TARGET, "cashier")
    if who == ANON:
        user = Staff(app.test_client(), "")
        user.token = csrf_token(user.client.get("/admin/login").text)
    else:
        user = signed_in(who)
    response = user.get(path) if key[1] == "GET" else user.post(path, data)
    if response.status_code == 403:
        assert "Not allowed" in response.text or "无权访问" in response.text, who
    if (
        who == ANON
        and response.status_code == 302
        and key[0]
        not in (
            "admin.login",
            "admin.language",
        )
    ):
        assert response.headers["Location"].startswith("/admin/login?next="), who
    return int(response.status_code)
