"""Signing in and out: the form, lock-out, CSRF, safe redirects, cookies, ended sessions."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from app import clock
from app.audit.models import AuditEntry
from app.auth.services import find_staff, reset_password
from app.db import db
from tests.admin.conftest import PASSWORD, Staff, csrf_token

NOW = dt.datetime(2026, 12, 7, 2, 0, tzinfo=dt.UTC)


def test_the_sign_in_form_has_exactly_its_fields(client: Any) -> None:
    page = client.get("/admin/login")

    assert page.status_code == 200
    names = set(re.findall(r'<input[^>]* name="([^"]+)"', page.text))
    assert {"username", "password", "csrf_token"} <= names
    assert names - {"username", "password", "csrf_token"} <= {"next"}


def test_not_signed_in_goes_to_the_sign_in_page_and_comes_back(app: Flask, make_staff: Any) -> None:
    make_staff("boss")
    boss = Staff(app.test_client(), "boss")
    first = boss.get("/admin/audit?actor=x")
    assert first.status_code == 302
    assert first.headers["Location"] == "/admin/login?next=/admin/audit?actor%3Dx"

    answer = boss.sign_in(next_path="/admin/audit?actor=x")

    assert answer.status_code == 302
    assert answer.headers["Location"] == "/admin/audit?actor=x"
    assert boss.get("/admin/audit?actor=x").status_code == 200


@pytest.mark.parametrize(
    "target", ["https://evil.example/admin", "//evil.example/admin", "/api/v1/members", "/\\evil"]
)
def test_next_never_leaves_the_panel(app: Flask, make_staff: Any, target: str) -> None:
    make_staff("boss")
    answer = Staff(app.test_client(), "boss").sign_in(next_path=target)

    assert answer.headers["Location"] == "/admin/"


def test_a_wrong_password_is_refused_and_the_dashboard_stays_closed(
    app: Flask, make_staff: Any
) -> None:
    make_staff("boss")
    boss = Staff(app.test_client(), "boss")

    answer = boss.sign_in(password="not the password")

    assert answer.status_code == 401
    assert "用户名或密码错误" in answer.text
    assert boss.get("/admin/").status_code == 302


def test_five_failures_lock_the_account_for_fifteen_minutes(app: Flask, make_staff: Any) -> None:
    make_staff("boss", language="en")
    boss = Staff(app.test_client(), "boss")
    with clock.frozen(NOW):
        answers = [boss.sign_in(password=f"wrong {n} password") for n in range(5)]
        assert [a.status_code for a in answers] == [401, 401, 401, 401, 423]
        # Locked: the right password is refused too, and says why.
        locked = boss.sign_in()
        assert locked.status_code == 423
        assert "登录失败次数过多" in locked.text
    with clock.frozen(NOW + dt.timedelta(minutes=14, seconds=59)):
        assert boss.sign_in().status_code == 423
    with clock.frozen(NOW + dt.timedelta(minutes=15)):
        assert boss.sign_in().status_code == 302
    actions = db.session.scalars(select(AuditEntry.action).where(AuditEntry.object_id == "boss"))
    assert "staff.lock" in list(actions)


def test_the_failure_count_survives_the_refused_request(app: Flask, make_staff: Any) -> None:
    make_staff("boss")
    boss = Staff(app.test_client(), "boss")
    for n in range(3):
        boss.sign_in(password=f"wrong {n} password")
    db.session.expire_all()
    assert find_staff("boss").failed_sign_ins == 3
    assert boss.sign_in().status_code == 302
    db.session.expire_all()
    assert find_staff("boss").failed_sign_ins == 0


def test_an_unknown_user_and_a_disabled_one_get_the_same_answer(
    app: Flask, make_staff: Any, runner: Any
) -> None:
    make_staff("boss")
    make_staff("gone", "marketer")
    assert runner.invoke(args=["staff", "disable", "gone"]).exit_code == 0

    unknown = Staff(app.test_client(), "nobody").sign_in()
    disabled = Staff(app.test_client(), "gone").sign_in()

    assert unknown.status_code == disabled.status_code == 401
    assert "用户名或密码错误" in unknown.text and "用户名或密码错误" in disabled.text


def test_a_form_without_its_csrf_token_is_refused(app: Flask, make_staff: Any) -> None:
    make_staff("boss")
    client = app.test_client()
    client.get("/admin/login")

    answer = client.post("/admin/login", data={"username": "boss", "password": PASSWORD})
    forged = client.post(
        "/admin/login", data={"username": "boss", "password": PASSWORD, "csrf_token": "x.y.z"}
    )

    assert answer.status_code == forged.status_code == 400
    assert "此表单已过期或并非来自本站" in answer.text
    assert client.get("/admin/").status_code == 302  # not signed in


def test_a_signed_in_post_without_the_token_changes_nothing(
    signed_in: Any, make_staff: Any
) -> None:
    admin = signed_in("admin")
    make_staff("clerk", "cashier")

    answer = admin.client.post("/admin/staff/clerk/disable", data={})

    assert answer.status_code == 400
    assert find_staff("clerk").active


def test_the_session_cookie_is_httponly_and_samesite_lax(app: Flask, make_staff: Any) -> None:
    make_staff("boss")
    answer = Staff(app.test_client(), "boss").sign_in()

    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # testing; production sets it (test below)


def test_production_cookies_are_secure(backend: dict[str, Any]) -> None:
    from app import create_app
    from tests.conftest import settings_for

    prod = create_app(settings_for(backend, LAOYOU_ENV="production", SECRET_KEY="k" * 40))

    assert prod.config["SESSION_COOKIE_SECURE"] is True
    assert prod.config["SESSION_COOKIE_SAMESITE"] == "Lax"


def test_sign_out_ends_the_session(signed_in: Any) -> None:
    admin = signed_in("admin")

    answer = admin.post("/admin/logout")

    assert answer.headers["Location"] == "/admin/login"
    assert admin.get("/admin/").status_code == 302


def test_a_password_reset_ends_the_sessions_signed_in_before(signed_in: Any) -> None:
    cashier = signed_in("cashier", username="clerk")
    assert cashier.get("/admin/").status_code == 200

    reset_password(find_staff("clerk"), "a brand new password")

    assert cashier.get("/admin/").status_code == 302
    assert cashier.sign_in(password="a brand new password").status_code == 302


def test_changing_ones_own_password(signed_in: Any) -> None:
    me = signed_in("marketer", username="mia")
    wrong = me.post(
        "/admin/password",
        {
            "old_password": "nope",
            "new_password": "new password 1",
            "confirm_password": "new password 1",
        },
    )
    assert wrong.status_code == 400 and "当前密码不正确" in wrong.text
    short = me.post(
        "/admin/password",
        {"old_password": PASSWORD, "new_password": "short", "confirm_password": "short"},
    )
    assert short.status_code == 400 and "10 至 200" in short.text

    done = me.post(
        "/admin/password",
        {
            "old_password": PASSWORD,
            "new_password": "new password 1",
            "confirm_password": "new password 1",
        },
    )

    assert done.status_code == 302
    assert me.get("/admin/").status_code == 200  # this session goes on
    other = Staff(me.client.application.test_client(), "mia")
    assert other.sign_in().status_code == 401
    assert other.sign_in(password="new password 1").status_code == 302


@pytest.mark.parametrize("username", ["boss\x00", "b" * 5000, "", "Ｂoss", "<script>"])
def test_hostile_sign_in_input_is_a_clear_refusal(
    app: Flask, make_staff: Any, username: str
) -> None:
    make_staff("boss")
    client = app.test_client()
    token = csrf_token(client.get("/admin/login").text)

    answer = client.post(
        "/admin/login",
        data={"username": username, "password": PASSWORD + "\x00" * 3, "csrf_token": token},
    )

    assert answer.status_code in (400, 401)
    assert client.get("/admin/").status_code == 302


def test_an_absurd_password_is_refused_without_hashing_it(app: Flask, make_staff: Any) -> None:
    make_staff("boss")
    client = app.test_client()
    token = csrf_token(client.get("/admin/login").text)

    answer = client.post(
        "/admin/login", data={"username": "boss", "password": "p" * 100_000, "csrf_token": token}
    )

    assert answer.status_code == 401


def test_before_signing_in_the_language_is_the_browsers_or_the_switch(app: Flask) -> None:
    client = app.test_client()
    assert "使用者名稱" in client.get("/admin/login", headers={"Accept-Language": "zh-TW"}).text
    token = csrf_token(client.get("/admin/login").text)

    client.post("/admin/language", data={"language": "en", "csrf_token": token, "next": "/x"})

    page = client.get("/admin/login")
    assert '<html lang="en">' in page.text
    assert ">Username" in page.text
    client.post("/admin/language", data={"language": "klingon", "csrf_token": token})
    assert '<html lang="en">' in client.get("/admin/login").text


def test_the_staff_members_language_wins_once_signed_in(app: Flask, make_staff: Any) -> None:
    make_staff("lin", "marketer", language="zh-Hant", display_name="林")
    lin = Staff(app.test_client(), "lin")
    lin.client.get("/admin/login", headers={"Accept-Language": "en"})

    lin.sign_in()

    page = lin.get("/admin/", headers={"Accept-Language": "en"})
    assert '<html lang="zh-Hant">' in page.text
    assert "林，您好" in page.text and "會員卡" in page.text
