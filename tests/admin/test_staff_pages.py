"""The staff pages: create, reset a password, disable, grants and denials — and their audit."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import select

from app.audit.models import AuditEntry
from app.auth.services import find_staff
from app.db import db
from tests.admin.conftest import Staff


def _audit(action: str) -> list[AuditEntry]:
    return list(
        db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        )
    )


def test_an_admin_creates_a_cashier_who_then_signs_in(
    app: Flask, signed_in: Any, make_store: Any
) -> None:
    make_store("SH02")
    admin = signed_in("admin", username="boss")

    answer = admin.post(
        "/admin/staff/new",
        {
            "username": "Li.Na",
            "display_name": "李娜",
            "role": "cashier",
            "store": "SH02",
            "language": "zh-Hant",
            "password": "cashier password",
        },
    )

    assert answer.status_code == 302
    assert answer.headers["Location"].startswith("/admin/staff/li.na")
    listing = admin.get("/admin/staff")
    assert "李娜" in listing.text and "SH02" in listing.text
    clerk = Staff(app.test_client(), "li.na")
    assert clerk.sign_in(password="cashier password").status_code == 302
    assert "李娜，您好" in clerk.get("/admin/").text  # zh-Hant: her language
    entry = _audit("staff.create")[-1]
    assert (entry.actor_kind, entry.actor, entry.object_id) == ("staff", "boss", "li.na")
    assert entry.after["store"] == "SH02" and entry.after["role"] == "cashier"


def test_a_cashier_without_a_store_is_refused_with_the_reason(signed_in: Any) -> None:
    admin = signed_in("admin")

    answer = admin.post(
        "/admin/staff/new",
        {"username": "clerk", "role": "cashier", "store": "", "password": "cashier password"},
    )

    assert answer.status_code == 400
    assert "店长和收银员属于一家门店" in answer.text
    assert find_staff("clerk") is None


def test_reset_and_disable(app: Flask, signed_in: Any) -> None:
    admin = signed_in("admin", username="boss")
    clerk = signed_in("cashier", username="clerk")

    assert admin.post("/admin/staff/clerk/password", {"password": "short"}).status_code == 400
    assert (
        admin.post("/admin/staff/clerk/password", {"password": "given by boss"}).status_code == 302
    )
    assert clerk.get("/admin/").status_code == 302  # the reset ended her session
    assert clerk.sign_in(password="given by boss").status_code == 302

    assert admin.post("/admin/staff/clerk/disable").status_code == 302

    assert clerk.get("/admin/").status_code == 302
    assert clerk.sign_in(password="given by boss").status_code == 401
    assert [e.object_id for e in _audit("staff.reset_password")] == ["clerk"]
    disabled = _audit("staff.disable")[-1]
    assert (disabled.before, disabled.after) == ({"active": True}, {"active": False})


def test_the_last_admin_cannot_disable_themselves(signed_in: Any) -> None:
    admin = signed_in("admin", username="boss")

    answer = admin.post("/admin/staff/boss/disable")

    assert answer.status_code == 400
    assert "不能停用最后一个有效的管理员" in answer.text
    assert find_staff("boss").active


def test_a_grant_opens_a_room_and_a_denial_closes_one(signed_in: Any) -> None:
    admin = signed_in("admin", username="boss")
    clerk = signed_in("cashier", username="clerk")
    assert clerk.get("/admin/audit").status_code == 403
    assert "/admin/audit" not in clerk.get("/admin/").text  # no link to a closed room

    admin.post("/admin/staff/clerk/permissions", {"perm:audit.view": "grant"})

    assert clerk.get("/admin/audit").status_code == 200
    assert 'href="/admin/audit"' in clerk.get("/admin/").text

    admin.post(
        "/admin/staff/boss/permissions", {"perm:audit.view": "deny"}
    )  # an admin may deny themselves a room
    assert admin.get("/admin/audit").status_code == 403
    entries = _audit("staff.permissions")
    assert [(e.object_id, e.before, e.after) for e in entries] == [
        ("clerk", {"grants": [], "denials": []}, {"grants": ["audit.view"], "denials": []}),
        ("boss", {"grants": [], "denials": []}, {"grants": [], "denials": ["audit.view"]}),
    ]


def test_unknown_staff_is_a_404_page(signed_in: Any) -> None:
    admin = signed_in("admin")

    page = admin.get("/admin/staff/nobody")
    assert page.status_code == 404
    assert "未找到" in page.text  # the panel's page, in the staff member's language
    assert admin.post("/admin/staff/nobody/disable").status_code == 404


def test_an_unknown_permission_in_the_form_is_ignored(signed_in: Any) -> None:
    admin = signed_in("admin")
    signed_in("cashier", username="clerk")

    answer = admin.post("/admin/staff/clerk/permissions", {"perm:root.everything": "grant"})

    assert answer.status_code == 302
    assert _audit("staff.permissions") == []
