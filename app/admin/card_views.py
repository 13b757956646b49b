"""Card actions with a reason (``cards.act``) and batch issue of gift cards.

Each acting form carries a one-time key (``app.admin.once``): the same form sent twice
acts once, and the second answer shows what the first did. The state changes go through
``app.cards.services`` (audited by the audit package's ``card_state_changed`` receiver),
a return through ``app.ledger.adjustments.return_card`` (refund, audited).
"""

from __future__ import annotations

import csv
import io
from typing import Any

from flask import abort, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from app.admin.guard import current_staff, forbidden, requires
from app.admin.member_views import CARD_ACTIONS
from app.admin.messages import error_text
from app.admin.once import claim, clean_key, form_key, settle
from app.auth.permissions import store_scope
from app.cards.batches import MONEY_TYPES, Batch, issue_batch
from app.cards.models import CARD_TYPES, Card
from app.cards.services import PERIODS, change_state, get_card, replace_card
from app.errors import InvalidRequest, LaoyouError, NotFound
from app.i18n import gettext
from app.ledger.adjustments import clean_reason, return_card
from app.money import parse_yuan
from app.stores.services import get_store, list_stores

#: Largest batch the panel issues in one request (each PIN costs an argon2 hash);
#: ``laoyou cards issue`` takes up to 10,000.
MAX_PANEL_BATCH = 500


def _card_store_id(card: Card) -> int | None:
    return card.member.home_store_id if card.member is not None else card.issued_store_id


def _back(card: Card, key: str) -> Response:
    if card.member_id is not None:
        return redirect(url_for("admin.member_page", member_id=card.member_id, done=key))
    return redirect(url_for("admin.member_search", done=key))


def _refused(message: str, status: int = 400) -> tuple[str, int]:
    return render_template("admin/refused.html", message=message), status


@requires("cards.act")
def card_action(number: str) -> Response | tuple[str, int]:
    staff = current_staff()
    assert staff is not None
    try:
        card = get_card(number[:32])
    except NotFound:
        abort(404)
    scope = store_scope(staff)
    if scope is not None and _card_store_id(card) not in scope:
        return forbidden("cards.act")
    form = request.form
    action = form.get("action", "")
    if action not in CARD_ACTIONS:
        return _refused(gettext("Choose an action for the card."))
    try:
        reason = clean_reason(form.get("reason", ""))
    except InvalidRequest:
        return _refused(gettext("A card action needs a reason: one line, at most 200 characters."))
    key = clean_key(form.get("key"))
    earlier = claim(key, staff.username, f"card.{action}")
    if earlier is not None:
        if earlier.outcome is None:
            return _refused(gettext("This form was already used. Reload the page."), 409)
        return _back(card, key)
    actor = f"staff:{staff.username}"
    outcome: dict[str, Any] = {"action": action, "card": card.number}
    try:
        if action == "replace":
            outcome["new_card"] = replace_card(card, actor=actor, reason=reason).number
        elif action == "return":
            result = return_card(card, reason=reason, actor=actor, key=f"admin:{key}")
            outcome.update(
                refunded_fen=result.refunded_fen,
                bonus_forfeited_fen=result.bonus_forfeited_fen,
                points_moved=result.points_moved,
                points_moved_to=result.points_moved_to,
                points_forfeited=result.points_forfeited,
                visits_forfeited=result.visits_forfeited,
            )
        else:
            change_state(card, action, actor=actor, reason=reason)
    except LaoyouError as exc:
        return _refused(error_text(exc), 409 if exc.status == 409 else 400)
    outcome["state"] = card.state
    settle(key, outcome)
    return _back(card, key)


# --- batch issue -------------------------------------------------------------------------


def _chain_wide() -> bool:
    staff = current_staff()
    assert staff is not None
    return store_scope(staff) is None


def _issue_page(form: Any, error: str | None = None, status: int = 200) -> tuple[str, int]:
    return (
        render_template(
            "admin/cards_issue.html",
            form=form,
            error=error,
            types=CARD_TYPES,
            periods=tuple(PERIODS),
            stores=list_stores(),
            key=form_key(),
            most=MAX_PANEL_BATCH,
        ),
        status,
    )


def _whole(text: str | None, low: int, high: int) -> int | None:
    text = (text or "").strip() or "0"
    if not (text.isascii() and text.isdigit() and len(text) <= 9):
        return None
    value = int(text)
    return value if low <= value <= high else None


@requires("cards.act")
def cards_issue() -> Response | tuple[str, int]:
    """A batch of anonymous cards for the chain: the answer is their CSV (PINs included)."""
    if not _chain_wide():
        return forbidden("cards.act")
    if request.method == "GET":
        return _issue_page({"type": "gift", "count": "10", "pins": "1"})
    staff = current_staff()
    assert staff is not None
    form = request.form
    count = _whole(form.get("count"), 1, MAX_PANEL_BATCH)
    if count is None:
        return _issue_page(form, gettext("Issue 1 to %(most)s cards.", most=MAX_PANEL_BATCH), 400)
    card_type = form.get("type", "")
    if card_type not in CARD_TYPES:
        return _issue_page(form, gettext("Choose a card type."), 400)
    try:
        value_fen = parse_yuan(form.get("value_yuan", "").strip() or "0")
    except ValueError:
        return _issue_page(form, gettext("Write yuan with at most two decimals."), 400)
    visits = _whole(form.get("visits"), 0, 100_000)
    if value_fen < 0 or visits is None:
        return _issue_page(form, gettext("A value cannot be negative."), 400)
    if value_fen and card_type not in MONEY_TYPES:
        return _issue_page(form, gettext("Only gift and stored value cards hold a value."), 400)
    period = form.get("period") or None
    if card_type == "period" and period not in PERIODS:
        return _issue_page(form, gettext("A period card needs a period."), 400)
    store = None
    if form.get("store"):
        try:
            store = get_store(form.get("store", "")[:32])
        except NotFound:
            return _issue_page(form, gettext("No such store."), 400)
    key = clean_key(form.get("key"))
    earlier = claim(key, staff.username, "card.issue_batch")
    if earlier is not None:
        # The PINs were handed over once and are kept nowhere: never issued twice.
        shown = earlier.outcome or {}
        return _issue_page(
            form,
            gettext(
                "This batch was already issued (%(count)s cards, %(first)s to %(last)s).",
                count=shown.get("count", "?"),
                first=shown.get("first", "?"),
                last=shown.get("last", "?"),
            ),
            409,
        )
    batch = Batch(
        card_type,
        period=period if card_type == "period" else None,
        value_fen=value_fen,
        visits=visits if card_type == "count" else 0,
        pins=form.get("pins") == "1",
        store=store,
        actor=f"staff:{staff.username}",
    )
    try:
        rows = issue_batch(batch, count)
    except LaoyouError as exc:
        return _issue_page(form, error_text(exc), 400)
    settle(key, {"count": count, "first": rows[0]["number"], "last": rows[-1]["number"]})
    out = io.StringIO()
    out.write("\ufeff")  # Excel reads UTF-8 with a BOM
    writer = csv.DictWriter(out, fieldnames=batch.columns(), lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    name = f"cards-{card_type}-{rows[0]['number']}.csv"
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )
