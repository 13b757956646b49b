"""Staff of every role, and a browser-like client that signs in through the form."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.db import db

PASSWORD = "correct horse battery"
ROLES = ("admin", "marketer", "store_manager", "cashier")


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page has no CSRF token"
    return match.group(1)


class Staff:
    """A test client signed in as one staff member, posting forms with their CSRF token."""

    def __init__(self, client: FlaskClient, username: str) -> None:
        self.client = client
        self.username = username
        self.token = ""

    def sign_in(self, password: str = PASSWORD, next_path: str = "") -> Any:
        page = self.client.get("/admin/login")
        response = self.client.post(
            "/admin/login",
            data={
                "username": self.username,
                "password": password,
                "csrf_token": csrf_token(page.text),
                "next": next_path,
            },
        )
        if response.status_code == 302:
            # Signing in starts a new session, and with it a new CSRF token.
            self.token = csrf_token(self.client.get("/admin/password").text)
        return response

    def get(self, path: str, **kw: Any) -> Any:
        return self.client.get(path, **kw)

    def post(self, path: str, data: dict[str, Any] | None = None, **kw: Any) -> Any:
        if not self.token:
            self.token = csrf_token(self.client.get("/admin/login").text)
        return self.client.post(path, data={"csrf_token": self.token, **(data or {})}, **kw)


@pytest.fixture
def make_staff(app: Flask, make_store: Callable[..., Any]) -> Callable[..., Any]:
    from app.auth.services import create_staff

    def make(username: str, role: str = "admin", *, store: str | None = None, **kw: Any) -> Any:
        if role in ("store_manager", "cashier") and store is None:
            store = "SH01"
        if store:
            make_store(store)
        staff = create_staff(
            username, kw.pop("password", PASSWORD), role=role, store_code=store, **kw
        )
        db.session.flush()
        return staff

    return make


@pytest.fixture
def signed_in(app: Flask, make_staff: Callable[..., Any]) -> Callable[..., Staff]:
    """``signed_in("cashier")``: a new client signed in as a new staff member of that role."""

    def sign_in(role: str = "admin", username: str | None = None, **kw: Any) -> Staff:
        name = username or f"{role.replace('_', '')}1"
        make_staff(name, role, **kw)
        staff = Staff(app.test_client(), name)
        response = staff.sign_in()
        assert response.status_code == 302, response.text
        return staff

    return sign_in
