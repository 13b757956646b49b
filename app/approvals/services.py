"""Ask, approve, reject. Approving runs the kind's handler in the same transaction."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask, current_app
from sqlalchemy import select

from app.approvals.models import ApprovalRequest
from app.audit.services import record
from app.auth.models import StaffUser
from app.db import db, utcnow
from app.errors import AlreadyDecided, InvalidRequest, NotFound, SelfApproval

#: payload (with ``request_id`` added), requester, approver -> what was done (kept as the
#: request's outcome).
Handler = Callable[[dict[str, Any], StaffUser, StaffUser], dict[str, Any]]


def register_kind(app: Flask, kind: str, handler: Handler) -> None:
    """Called from the owning package's ``init_app``."""
    app.extensions.setdefault("laoyou.approval_kinds", {})[kind] = handler


def _handler(kind: str) -> Handler:
    handler = current_app.extensions.get("laoyou.approval_kinds", {}).get(kind)
    if handler is None:
        raise InvalidRequest(f"no package handles approvals of kind {kind!r}", field="kind")
    return handler  # type: ignore[no-any-return]


def needs_adjustment_approval(*, amount_fen: int = 0, points: int = 0) -> bool:
    """A manual adjustment above either threshold (either sign) waits for a second admin."""
    cfg = current_app.config
    return (
        abs(amount_fen) > cfg["ADJUSTMENT_APPROVAL_FEN"]
        or abs(points) > cfg["ADJUSTMENT_APPROVAL_POINTS"]
    )


def request_approval(
    kind: str, payload: dict[str, Any], requested_by: StaffUser, *, store_id: int | None = None
) -> ApprovalRequest:
    _handler(kind)  # an unknown kind is refused now, not when someone approves it
    req = ApprovalRequest(
        kind=kind,
        payload=payload,
        store_id=store_id,
        requested_by_id=requested_by.id,
        status="pending",
    )
    db.session.add(req)
    db.session.flush()
    record("approval.request", "approval", req.id, after={"kind": kind, **payload})
    return req


def _pending(request_id: int) -> ApprovalRequest:
    # Locked: two admins approving at once post once; the second sees it decided.
    req = db.session.scalar(
        select(ApprovalRequest)
        .where(ApprovalRequest.id == request_id)
        .with_for_update(of=ApprovalRequest)
    )
    if req is None:
        raise NotFound(f"no approval request {request_id}")
    if req.status != "pending":
        raise AlreadyDecided(f"approval request {request_id} is already {req.status}")
    return req


def approve(request_id: int, approver: StaffUser) -> ApprovalRequest:
    req = _pending(request_id)
    if req.requested_by_id == approver.id:
        raise SelfApproval("a request is approved by someone other than who asked")
    # The request's id comes along: the handler's idempotency key (posted once).
    outcome = _handler(req.kind)({**req.payload, "request_id": req.id}, req.requested_by, approver)
    req.status = "approved"
    req.decided_by = approver
    req.decided_at = utcnow()
    req.outcome = outcome
    db.session.flush()
    record(
        "approval.approve",
        "approval",
        req.id,
        before={"status": "pending"},
        after={"status": "approved", **outcome},
    )
    return req


def reject(request_id: int, approver: StaffUser, *, note: str = "") -> ApprovalRequest:
    """Anyone who may approve may reject, the requester too (withdrawing it)."""
    req = _pending(request_id)
    req.status = "rejected"
    req.decided_by = approver
    req.decided_at = utcnow()
    req.outcome = {"note": note.strip()[:500]} if note.strip() else {}
    db.session.flush()
    record(
        "approval.reject",
        "approval",
        req.id,
        before={"status": "pending"},
        after={"status": "rejected", **req.outcome},
    )
    return req


def list_requests(
    *, status: str | None = "pending", store_ids: frozenset[int] | None = None, limit: int = 200
) -> list[ApprovalRequest]:
    query = select(ApprovalRequest).order_by(ApprovalRequest.id.desc()).limit(limit)
    if status:
        query = query.where(ApprovalRequest.status == status)
    if store_ids is not None:
        query = query.where(ApprovalRequest.store_id.in_(store_ids))
    return list(db.session.scalars(query))


def get_request(request_id: int) -> ApprovalRequest | None:
    return db.session.get(ApprovalRequest, request_id)
