"""Ask, approve, reject: the requester cannot approve their own, a decision is made once."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from app.approvals.services import (
    approve,
    list_requests,
    needs_adjustment_approval,
    register_kind,
    reject,
    request_approval,
)
from app.audit.models import AuditEntry
from app.db import db
from app.errors import AlreadyDecided, InvalidRequest, NotFound, SelfApproval


@pytest.fixture
def app_config() -> dict[str, Any]:
    return {"ADJUSTMENT_APPROVAL_FEN": 10_000, "ADJUSTMENT_APPROVAL_POINTS": 500}


@pytest.fixture
def applied(app: Any) -> list[tuple[dict[str, Any], str, str]]:
    """What the test kind's handler was asked to do, by whom."""
    done: list[tuple[dict[str, Any], str, str]] = []

    def handler(payload: dict[str, Any], requester: Any, approver: Any) -> dict[str, Any]:
        done.append((payload, requester.username, approver.username))
        return {"posted": len(done)}

    register_kind(app, "test_change", handler)
    return done


@pytest.fixture
def people(app: Any, make_store: Any) -> dict[str, Any]:
    from app.auth.services import create_staff

    make_store("SH01")
    return {
        name: create_staff(name, "a long enough password", role=role, store_code=store)
        for name, role, store in (
            ("boss", "admin", None),
            ("boss2", "admin", None),
            ("mgr", "store_manager", "SH01"),
        )
    }


def test_a_second_admin_approves_and_the_change_is_made_once(
    people: dict[str, Any], applied: list[Any]
) -> None:
    req = request_approval("test_change", {"fen": 20_000}, people["mgr"])
    assert applied == []
    assert [r.id for r in list_requests()] == [req.id]

    approve(req.id, people["boss"])

    assert applied == [({"fen": 20_000, "request_id": req.id}, "mgr", "boss")]
    assert (req.status, req.decided_by.username, req.outcome) == ("approved", "boss", {"posted": 1})
    assert req.decided_at is not None
    with pytest.raises(AlreadyDecided):
        approve(req.id, people["boss2"])
    assert len(applied) == 1
    assert list_requests() == []
    actions = list(db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
    assert actions[-2:] == ["approval.request", "approval.approve"]


def test_the_requester_cannot_approve_their_own(people: dict[str, Any], applied: list[Any]) -> None:
    req = request_approval("test_change", {"fen": 20_000}, people["boss"])

    with pytest.raises(SelfApproval):
        approve(req.id, people["boss"])

    assert applied == [] and req.status == "pending"
    approve(req.id, people["boss2"])
    assert applied == [({"fen": 20_000, "request_id": req.id}, "boss", "boss2")]


def test_a_rejected_request_is_never_applied(people: dict[str, Any], applied: list[Any]) -> None:
    req = request_approval("test_change", {"fen": 20_000}, people["mgr"])

    reject(req.id, people["boss"], note="  not without a receipt ")

    assert (req.status, req.outcome) == ("rejected", {"note": "not without a receipt"})
    with pytest.raises(AlreadyDecided):
        approve(req.id, people["boss2"])
    assert applied == []


def test_unknown_kinds_and_requests_are_refused(people: dict[str, Any], applied: list[Any]) -> None:
    with pytest.raises(InvalidRequest):
        request_approval("no_such_kind", {}, people["mgr"])
    with pytest.raises(NotFound):
        approve(999_999, people["boss"])


def test_the_thresholds_come_from_the_settings(app: Any) -> None:
    assert not needs_adjustment_approval(amount_fen=10_000)
    assert needs_adjustment_approval(amount_fen=10_001)
    assert needs_adjustment_approval(amount_fen=-10_001)
    assert not needs_adjustment_approval(points=-500)
    assert needs_adjustment_approval(points=501)
    assert app.config["ADJUSTMENT_APPROVAL_FEN"] == 10_000
