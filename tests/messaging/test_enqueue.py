"""``enqueue`` is the one writer of outbox rows, and it applies the alert switches itself."""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

import app as app_package
from app.db import db
from app.errors import InvalidRequest
from app.members.services import set_alert_preference
from app.messaging.models import OutboxMessage
from app.messaging.services import enqueue, set_programme_alert
from tests.messaging.test_alerts import _post

PHONE = "+8613800138000"

#: Columns every freshly queued row gets from ``enqueue``, whoever asked for it.
QUEUED = ("channel", "status", "attempts", "opt_out_confirmation", "provider_id", "sent_at")


def _rows() -> list[OutboxMessage]:
    return list(db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


@pytest.fixture
def member(make_member: Callable[..., Any]) -> Any:
    return make_member(PHONE, language="en")


def test_a_switched_off_alert_type_is_not_queued(app: Flask, member: Any) -> None:
    set_alert_preference(member, "level", False)
    assert (
        enqueue(address=PHONE, body="Gold!", kind="alert", alert_type="level", member=member)
        is None
    )
    set_programme_alert("low_balance", False)
    assert (
        enqueue(address=PHONE, body="Low", kind="alert", alert_type="low_balance", member=member)
        is None
    )
    assert _rows() == []
    # The other types, and messages that are not alerts, still go out.
    sent = enqueue(
        address=PHONE, body="Spent", kind="alert", alert_type="transaction", member=member
    )
    news = enqueue(address=PHONE, body="Sale", kind="marketing", member=member)
    assert [(r.id, r.alert_type) for r in _rows()] == [(sent, "transaction"), (news, None)]


def test_switched_on_again_the_same_key_queues_once(app: Flask, member: Any) -> None:
    set_alert_preference(member, "transaction", False)
    args = {"address": PHONE, "body": "Spent", "kind": "alert", "alert_type": "transaction"}
    assert enqueue(**args, member=member, dedupe_key="alert:transaction:1") is None
    set_alert_preference(member, "transaction", True)
    first = enqueue(**args, member=member, dedupe_key="alert:transaction:1")
    assert first is not None
    assert enqueue(**args, member=member, dedupe_key="alert:transaction:1") == first
    assert len(_rows()) == 1


def test_an_unknown_alert_type_is_refused(app: Flask, member: Any) -> None:
    with pytest.raises(InvalidRequest) as refused:
        enqueue(address=PHONE, body="Rain", kind="alert", alert_type="weather", member=member)
    assert refused.value.details == {"field": "alert_type"}
    assert _rows() == []


def test_an_alert_row_is_what_enqueue_writes(app: Flask, member: Any) -> None:
    """The ledger's alert and a message queued by hand look alike to the dispatcher."""
    _post(member)
    by_hand = enqueue(
        address=PHONE,
        body="hello",
        kind="alert",
        alert_type="transaction",
        language="en",
        member=member,
    )
    alert, queued = _rows()
    assert queued.id == by_hand
    assert [getattr(alert, c) for c in QUEUED] == [getattr(queued, c) for c in QUEUED]
    assert (alert.address, alert.member_id, alert.kind, alert.alert_type, alert.language) == (
        PHONE,
        member.id,
        "alert",
        "transaction",
        "en",
    )
    assert alert.next_attempt_at == alert.created_at == alert.updated_at
    assert alert.dedupe_key.startswith("alert:transaction:")


def _writes_outbox(tree: ast.AST) -> list[int]:
    """Lines that make an outbox row other than through ``enqueue``: the model called, its
    table taken (for a Core insert), or SQL text naming the table after INSERT INTO."""
    lines = []
    for node in ast.walk(tree):
        if (
            (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "OutboxMessage")
            or (
                isinstance(node, ast.Attribute)
                and node.attr == "__table__"
                and getattr(node.value, "id", None) == "OutboxMessage"
            )
            or (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and "insert into outbox_message" in " ".join(node.value.lower().split())
            )
        ):
            lines.append(node.lineno)
    return lines


def test_only_enqueue_writes_outbox_rows() -> None:
    root = Path(app_package.__file__).parent
    owner = root / "messaging" / "services.py"
    found = {
        f"{path.relative_to(root)}:{line}"
        for path in root.rglob("*.py")
        if path != owner and "migrations" not in path.parts
        for line in _writes_outbox(ast.parse(path.read_text(encoding="utf-8")))
    }
    assert found == set(), "outbox rows are written by app.messaging.services.enqueue only"
    assert _writes_outbox(ast.parse(owner.read_text(encoding="utf-8")))  # the scan sees it
