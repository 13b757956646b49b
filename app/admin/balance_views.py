"""Manual adjustments (``balances.adjust``) and their approvals (``balances.approve``).

An adjustment at or under the thresholds is posted at once through the ledger; above
them it becomes an approval request that another admin approves (审批) on the approvals
page. A store manager adjusts only cards of their own store's members.
"""

from __future__ import annotations

import uuid

from flask import abort, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from app.admin.guard import current_staff, forbidden, requires
from app.admin.messages import error_text
from app.approvals.services import (
    approve,
    get_request,
    list_requests,
    needs_adjustment_approval,
    reject,
    request_approval,
)
from app.auth.permissions import store_scope
from app.cards.models import Card
from app.cards.services import find_card
from app.errors import LaoyouError
from app.i18n import gettext
from app.ledger.adjustments import APPROVAL_KIND, adjust, adjustment_request
from app.ledger.balances import card_balances
from app.money import parse_yuan

MAX_FIELD_CHARS = 64


def _card_store_id(card: Card) -> int | None:
    return card.member.home_store_id if card.member is not None else card.issued_store_id


def _form_page(error: str | None = None, status: int = 200, **shown: object) -> tuple[str, int]:
    form = request.form if request.method == "POST" else request.args
    return (
        render_template(
            "admin/adjust.html",
            form=form,
            key=uuid.uuid4().hex,
            error=error,
            **shown,
        ),
        status,
    )


@requires("balances.adjust")
def adjust_page() -> tuple[str, int]:
    """The form; after a posting, the card's balances now (``?posted=…&card=…``)."""
    shown = (
        find_card(request.args.get("card", "")[:MAX_FIELD_CHARS])
        if request.args.get("posted")
        else None
    )
    staff = current_staff()
    assert staff is not None
    scope = store_scope(staff)
    if shown is not None and scope is not None and _card_store_id(shown) not in scope:
        shown = None
    return _form_page(shown=shown, balances=card_balances(shown.id) if shown is not None else None)


@requires("balances.adjust")
def adjust_post() -> Response | tuple[str, int]:
    staff = current_staff()
    assert staff is not None
    form = request.form
    card = find_card(form.get("card", "").strip()[:MAX_FIELD_CHARS])
    if card is None:
        return _form_page(gettext("No card or member matches that."), 400)
    scope = store_scope(staff)
    if scope is not None and _card_store_id(card) not in scope:
        return forbidden("balances.adjust")
    try:
        points_text = form.get("points", "").strip() or "0"
        points = int(points_text) if points_text.lstrip("+-").isdigit() else None
        amount_fen = parse_yuan(form.get("amount_yuan", "").strip() or "0")
    except ValueError:
        points, amount_fen = None, 0
    if points is None or len(points_text) > 13:
        return _form_page(gettext("Write whole points and yuan with at most two decimals."), 400)
    try:
        if needs_adjustment_approval(amount_fen=amount_fen, points=points):
            payload = adjustment_request(card, points, amount_fen, form.get("reason", ""))
            req = request_approval(APPROVAL_KIND, payload, staff, store_id=_card_store_id(card))
            return redirect(url_for("admin.adjust_page", queued=req.id))
        result = adjust(
            card,
            points=points,
            stored_value_fen=amount_fen,
            reason=form.get("reason", ""),
            # The form's one-time key: the same form sent twice posts once.
            key=f"admin:adjust:{form.get('key', '')[:MAX_FIELD_CHARS] or uuid.uuid4().hex}",
            actor=f"staff:{staff.username}",
        )
    except LaoyouError as exc:
        return _form_page(error_text(exc), 400)
    return redirect(url_for("admin.adjust_page", posted=result.transaction_id, card=card.number))


@requires("balances.approve")
def approvals_page() -> str:
    staff = current_staff()
    assert staff is not None
    scope = store_scope(staff)
    return render_template(
        "admin/approvals.html",
        pending=list_requests(status="pending", store_ids=scope),
        decided=[
            r
            for r in list_requests(status=None, store_ids=scope, limit=50)
            if r.status != "pending"
        ],
        error=request.args.get("error"),
    )


def _decide(request_id: int, approving: bool) -> Response | tuple[str, int]:
    staff = current_staff()
    assert staff is not None
    scope = store_scope(staff)
    found = get_request(request_id)
    if found is None:
        abort(404)
    if scope is not None and found.store_id not in scope:
        return forbidden("balances.approve")
    try:
        if approving:
            approve(request_id, staff)
        else:
            reject(request_id, staff, note=request.form.get("note", "")[:500])
    except LaoyouError as exc:
        return (
            render_template(
                "admin/approvals.html",
                pending=list_requests(status="pending", store_ids=store_scope(staff)),
                decided=[],
                error=error_text(exc),
            ),
            exc.status,
        )
    return redirect(url_for("admin.approvals_page"))


@requires("balances.approve")
def approval_approve(request_id: int) -> Response | tuple[str, int]:
    return _decide(request_id, True)


@requires("balances.approve")
def approval_reject(request_id: int) -> Response | tuple[str, int]:
    return _decide(request_id, False)
