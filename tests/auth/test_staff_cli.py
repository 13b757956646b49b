"""``laoyou staff create / list / disable``, and what they leave in the audit log."""

from __future__ import annotations

import getpass
from typing import Any

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditEntry
from app.auth.models import StaffUser
from app.auth.services import authenticate_staff, find_staff
from app.db import db
from app.errors import SignInFailed


@pytest.fixture
def sh01(runner: Any) -> None:
    """Committed (a refused command rolls back what the test's session had only flushed)."""
    result = runner.invoke(args=["store", "create", "SH01", "--name", "静安店", "--region", "华东"])
    assert result.exit_code == 0, result.output


def test_the_first_admin_with_the_password_on_stdin(runner: Any) -> None:
    result = runner.invoke(
        args=["staff", "create", "Boss", "--role", "admin", "--password-stdin"],
        input="a long enough password\n",
    )

    assert result.exit_code == 0, result.output
    assert "staff boss (admin) created" in result.output
    assert "a long enough password" not in result.output
    assert authenticate_staff("boss", "a long enough password").role == "admin"
    with pytest.raises(SignInFailed):
        authenticate_staff("boss", "a long enough password\n")
    entry = db.session.scalars(select(AuditEntry)).one()
    assert (entry.actor_kind, entry.actor, entry.action) == (
        "cli",
        getpass.getuser(),
        "staff.create",
    )
    assert "password" not in str(entry.after)


def test_a_cashier_needs_a_store(runner: Any, sh01: None) -> None:
    refused = runner.invoke(
        args=["staff", "create", "clerk", "--role", "cashier", "--password-stdin"],
        input="cashier password\n",
    )
    assert refused.exit_code == 1
    assert "--store CODE" in refused.output
    assert db.session.scalar(select(func.count()).select_from(StaffUser)) == 0

    made = runner.invoke(
        args=[
            "staff",
            "create",
            "clerk",
            "--role",
            "cashier",
            "--store",
            "sh01",
            "--password-stdin",
        ],
        input="cashier password\n",
    )
    assert made.exit_code == 0, made.output
    assert "staff clerk (cashier at SH01) created" in made.output
    assert find_staff("clerk").store.code == "SH01"


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["--role", "admin"], "short\n", "10 to 200 characters"),
        (["--role", "cashier", "--store", "XX99"], "cashier password\n", "XX99"),
        (["--role", "root"], "cashier password\n", "Invalid value for '--role'"),
    ],
)
def test_bad_input_is_refused_and_writes_nothing(
    runner: Any, sh01: None, args: list[str], stdin: str, message: str
) -> None:
    result = runner.invoke(
        args=["staff", "create", "clerk", *args, "--password-stdin"], input=stdin
    )

    assert result.exit_code != 0
    assert message in result.output
    assert db.session.scalar(select(func.count()).select_from(StaffUser)) == 0
    staff_entries = select(func.count()).where(AuditEntry.action.startswith("staff."))
    assert db.session.scalar(staff_entries) == 0


def test_a_taken_username_is_refused(runner: Any) -> None:
    args = ["staff", "create", "boss", "--role", "admin", "--password-stdin"]
    assert runner.invoke(args=args, input="a long enough password\n").exit_code == 0

    again = runner.invoke(args=args, input="another password\n")

    assert again.exit_code == 1
    assert "the username 'boss' is taken" in again.output


def test_list_and_disable(runner: Any, sh01: None) -> None:
    for name, extra in (
        ("boss", ["--role", "admin"]),
        ("clerk", ["--role", "cashier", "--store", "SH01"]),
    ):
        runner.invoke(
            args=["staff", "create", name, *extra, "--password-stdin"],
            input="a long enough password\n",
        )

    disabled = runner.invoke(args=["staff", "disable", "clerk"])
    listing = runner.invoke(args=["staff", "list"])

    assert disabled.exit_code == 0 and "staff clerk disabled" in disabled.output
    lines = listing.output.splitlines()
    assert lines[0].split()[:4] == ["username", "name", "role", "store"]
    assert "boss" in lines[1] and "active" in lines[1]
    assert "clerk" in lines[2] and "cashier" in lines[2] and "SH01" in lines[2]
    assert "disabled" in lines[2]
    with pytest.raises(SignInFailed):
        authenticate_staff("clerk", "a long enough password")
    assert runner.invoke(args=["staff", "disable", "nobody"]).exit_code == 1
    actions = list(
        db.session.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.object_type == "staff")
            .order_by(AuditEntry.id)
        )
    )
    assert actions == ["staff.create", "staff.create", "staff.disable"]


def test_the_last_admin_cannot_be_disabled(runner: Any) -> None:
    runner.invoke(
        args=["staff", "create", "boss", "--role", "admin", "--password-stdin"],
        input="a long enough password\n",
    )

    result = runner.invoke(args=["staff", "disable", "boss"])

    assert result.exit_code == 1
    assert "last active admin" in result.output
    assert find_staff("boss").active


def test_an_empty_list_says_how_to_start(runner: Any) -> None:
    result = runner.invoke(args=["staff", "list"])

    assert "laoyou staff create USERNAME --role admin --password-stdin" in result.output
