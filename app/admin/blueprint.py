"""The panel's URL table: every /admin page, its view and its methods, in one place."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template
from flask_wtf.csrf import generate_csrf

from app import clock
from app.admin import (
    activity_views,
    audit_views,
    balance_views,
    campaign_views,
    card_views,
    draw_views,
    guard,
    job_views,
    member_views,
    promotion_views,
    report_views,
    rules_views,
    setup_views,
    staff_views,
    system_views,
    text_views,
    transfer_views,
    views,
)
from app.admin.messages import (
    card_action_labels,
    gender_labels,
    language_labels,
    permission_labels,
    role_labels,
    transaction_kind_labels,
)
from app.cards.labels import card_state_labels, card_type_labels
from app.db import db, finish_failed, utcnow
from app.errors import LaoyouError
from app.limits import MAX_ID
from app.money import yuan

admin_bp = Blueprint("admin", __name__, url_prefix="/admin")

admin_bp.add_url_rule("/login", "login", views.login, methods=["GET", "POST"])
admin_bp.add_url_rule("/logout", "logout", views.logout, methods=["POST"])
admin_bp.add_url_rule("/language", "language", views.language, methods=["POST"])
admin_bp.add_url_rule("/", "dashboard", views.dashboard)
admin_bp.add_url_rule("/password", "password", views.password, methods=["GET", "POST"])

admin_bp.add_url_rule("/staff", "staff_list", staff_views.staff_list)
admin_bp.add_url_rule("/staff/new", "staff_new", staff_views.staff_new, methods=["GET", "POST"])
admin_bp.add_url_rule("/staff/<username>", "staff_detail", staff_views.staff_detail)
admin_bp.add_url_rule(
    "/staff/<username>/password", "staff_reset", staff_views.staff_reset, methods=["POST"]
)
admin_bp.add_url_rule(
    "/staff/<username>/disable", "staff_disable", staff_views.staff_disable, methods=["POST"]
)
admin_bp.add_url_rule(
    "/staff/<username>/permissions",
    "staff_permissions",
    staff_views.staff_permissions,
    methods=["POST"],
)

admin_bp.add_url_rule("/audit", "audit", audit_views.audit_log)
admin_bp.add_url_rule("/audit.csv", "audit_csv", audit_views.audit_csv)

admin_bp.add_url_rule("/adjust", "adjust_page", balance_views.adjust_page)
admin_bp.add_url_rule("/adjust", "adjust_post", balance_views.adjust_post, methods=["POST"])
admin_bp.add_url_rule("/approvals", "approvals_page", balance_views.approvals_page)
admin_bp.add_url_rule(
    "/approvals/<int:request_id>/approve",
    "approval_approve",
    balance_views.approval_approve,
    methods=["POST"],
)
admin_bp.add_url_rule(
    "/approvals/<int:request_id>/reject",
    "approval_reject",
    balance_views.approval_reject,
    methods=["POST"],
)

admin_bp.add_url_rule("/members", "member_search", member_views.member_search)
admin_bp.add_url_rule(
    f"/members/<int(max={MAX_ID}):member_id>", "member_page", member_views.member_page
)
admin_bp.add_url_rule(
    f"/members/<int(max={MAX_ID}):member_id>/edit",
    "member_edit",
    member_views.member_edit,
    methods=["GET", "POST"],
)
admin_bp.add_url_rule(
    "/members/import", "members_import", transfer_views.members_import, methods=["GET", "POST"]
)
admin_bp.add_url_rule("/members/export.csv", "members_export", transfer_views.members_export)
admin_bp.add_url_rule(
    "/cards/<number>/action", "card_action", card_views.card_action, methods=["POST"]
)
admin_bp.add_url_rule(
    "/cards/issue", "cards_issue", card_views.cards_issue, methods=["GET", "POST"]
)
admin_bp.add_url_rule("/texts", "texts", text_views.texts_list)
admin_bp.add_url_rule("/texts/<key>", "text_detail", text_views.text_detail)
admin_bp.add_url_rule("/texts/<key>", "text_save", text_views.text_save, methods=["POST"])
admin_bp.add_url_rule("/texts/<key>/reset", "text_reset", text_views.text_reset, methods=["POST"])
admin_bp.add_url_rule(
    "/texts/<key>/preview", "text_preview", text_views.text_preview, methods=["POST"]
)
admin_bp.add_url_rule("/rules", "rules", rules_views.overview)
admin_bp.add_url_rule("/rules/rules.json", "rules_export", rules_views.export_json)
admin_bp.add_url_rule("/rules/alerts", "rules_alerts", rules_views.alerts_page)
admin_bp.add_url_rule(
    "/rules/alerts", "rules_alerts_post", rules_views.alerts_post, methods=["POST"]
)
admin_bp.add_url_rule(
    "/rules/alerts/quiet-hours",
    "rules_quiet_hours_post",
    rules_views.quiet_hours_post,
    methods=["POST"],
)
admin_bp.add_url_rule("/rules/json/<name>", "rules_json", rules_views.json_page)
admin_bp.add_url_rule(
    "/rules/json/<name>", "rules_json_post", rules_views.json_post, methods=["POST"]
)
admin_bp.add_url_rule("/rules/<slug>", "rules_section", rules_views.section_page)
admin_bp.add_url_rule(
    "/rules/<slug>", "rules_section_post", rules_views.section_post, methods=["POST"]
)
admin_bp.add_url_rule("/stores", "stores", setup_views.stores)
admin_bp.add_url_rule("/stores", "store_create", setup_views.store_create, methods=["POST"])
admin_bp.add_url_rule(
    "/stores/<code>", "store_edit", setup_views.store_edit, methods=["GET", "POST"]
)
admin_bp.add_url_rule("/api-keys", "api_keys", setup_views.api_keys)
admin_bp.add_url_rule("/api-keys", "api_key_create", setup_views.api_key_create, methods=["POST"])
admin_bp.add_url_rule(
    "/api-keys/<int:key_id>/revoke",
    "api_key_revoke",
    setup_views.api_key_revoke,
    methods=["GET", "POST"],
)
admin_bp.add_url_rule("/questions", "questions", setup_views.questions)
admin_bp.add_url_rule("/questions", "question_add", setup_views.question_add, methods=["POST"])
admin_bp.add_url_rule(
    "/questions/<key>/retire", "question_retire", setup_views.question_retire, methods=["POST"]
)
admin_bp.add_url_rule("/reports", "reports", report_views.reports_index)
admin_bp.add_url_rule("/reports/<name>", "report", report_views.report_page)

admin_bp.add_url_rule("/jobs", "jobs", job_views.jobs_page)
admin_bp.add_url_rule("/system", "system", system_views.system)
admin_bp.add_url_rule("/jobs/<name>/run", "job_run", job_views.job_run, methods=["POST"])

admin_bp.add_url_rule("/segments", "segments_list", campaign_views.segments_list)
admin_bp.add_url_rule(
    "/segments/new", "segment_new", campaign_views.segment_new, methods=["GET", "POST"]
)
admin_bp.add_url_rule(
    "/segments/preview", "segment_preview", campaign_views.segment_preview, methods=["POST"]
)
admin_bp.add_url_rule(
    "/segments/<int:segment_id>",
    "segment_edit",
    campaign_views.segment_edit,
    methods=["GET", "POST"],
)
admin_bp.add_url_rule("/broadcasts", "broadcasts_list", campaign_views.broadcasts_list)
admin_bp.add_url_rule(
    "/broadcasts/new", "broadcast_new", campaign_views.broadcast_new, methods=["GET", "POST"]
)
admin_bp.add_url_rule(
    "/broadcasts/<int:broadcast_id>", "broadcast_detail", campaign_views.broadcast_detail
)
admin_bp.add_url_rule(
    "/broadcasts/<int:broadcast_id>/cancel",
    "broadcast_cancel",
    campaign_views.broadcast_cancel,
    methods=["POST"],
)
admin_bp.add_url_rule("/activities", "activities", activity_views.activities_list)
admin_bp.add_url_rule(
    "/activities/new", "activity_new", activity_views.activity_new, methods=["GET", "POST"]
)
admin_bp.add_url_rule("/activities/<code>", "activity_detail", activity_views.activity_detail)
_VOTE = f"/votes/<int(max={MAX_ID}):vote_id>"
_DRAW = f"/draws/<int(max={MAX_ID}):draw_id>"
admin_bp.add_url_rule("/votes", "votes", draw_views.votes)
admin_bp.add_url_rule("/votes/new", "vote_new", draw_views.vote_new, methods=["GET", "POST"])
admin_bp.add_url_rule(_VOTE, "vote_detail", draw_views.vote_detail)
admin_bp.add_url_rule(f"{_VOTE}/close", "vote_close", draw_views.vote_close, methods=["POST"])
admin_bp.add_url_rule(f"{_VOTE}/cancel", "vote_cancel", draw_views.vote_cancel, methods=["POST"])
admin_bp.add_url_rule("/draws", "draws", draw_views.draws)
admin_bp.add_url_rule("/draws/new", "draw_new", draw_views.draw_new, methods=["GET", "POST"])
admin_bp.add_url_rule(_DRAW, "draw_detail", draw_views.draw_detail)
admin_bp.add_url_rule(f"{_DRAW}/close", "draw_close", draw_views.draw_close, methods=["POST"])
admin_bp.add_url_rule(f"{_DRAW}/cancel", "draw_cancel", draw_views.draw_cancel, methods=["POST"])
admin_bp.add_url_rule("/promotions", "promotions", promotion_views.promotions_list)
admin_bp.add_url_rule(
    "/promotions/new", "promotion_new", promotion_views.promotion_new, methods=["GET", "POST"]
)
admin_bp.add_url_rule(
    f"/promotions/<int(max={MAX_ID}):promotion_id>",
    "promotion_page",
    promotion_views.promotion_page,
)
admin_bp.add_url_rule(
    f"/promotions/<int(max={MAX_ID}):promotion_id>",
    "promotion_save",
    promotion_views.promotion_save,
    methods=["POST"],
)
admin_bp.add_url_rule(
    f"/promotions/<int(max={MAX_ID}):promotion_id>/end",
    "promotion_end",
    promotion_views.promotion_end,
    methods=["POST"],
)

admin_bp.before_request(guard.before_admin_request)
admin_bp.teardown_request(guard.forget_request_state)


@admin_bp.app_template_global("admin_may")
def _may(permission: str) -> bool:
    return guard.may(permission)


@admin_bp.context_processor
def _page_context() -> dict[str, Any]:
    return {
        "csrf_token": generate_csrf,
        "staff": guard.current_staff(),
        "rooms": (rooms := views.rooms()),
        "room_groups": views.room_groups(rooms),
        "role_labels": role_labels(),
        "permission_labels": permission_labels(),
        "language_labels": language_labels(),
        "card_state_labels": card_state_labels(),
        "card_action_labels": card_action_labels(),
        "card_type_labels": card_type_labels(),
        "transaction_kind_labels": transaction_kind_labels(),
        "gender_labels": gender_labels(),
        "now_utc": utcnow,
        "yuan": yuan,
        "to_local": clock.to_local,
    }


@admin_bp.errorhandler(404)
def _not_found(exc: Exception) -> tuple[str, int]:
    return render_template("admin/error.html", status=404, reason="not_found"), 404


@admin_bp.errorhandler(413)
def _too_large(exc: Exception) -> tuple[str, int]:
    """A form or a file over ``MAX_CONTENT_LENGTH``: a page, before anything is read."""
    return render_template("admin/error.html", status=413, reason="too_large"), 413


@admin_bp.errorhandler(LaoyouError)
def _domain_error(exc: LaoyouError) -> tuple[str, int]:
    """A refusal a view did not handle itself: a page, not the API's JSON."""
    finish_failed(db.session(), exc)
    return render_template("admin/error.html", status=exc.status, reason=exc.code), exc.status
