"""Manual adjustments (人工调整): a staff member corrects a card's points or stored value.

Each is one journal transaction of kind ``adjustment`` against the ``issued`` system
account, with a mandatory reason, idempotent on its key, and written to the audit log
with the balances before and after. Stored value is adjusted on the paid-in asset (it
corrects what a customer paid: a mistyped recharge), never below zero. Points credited
are a new lot that expires as earned points do.

Above ``ADJUSTMENT_APPROVAL_FEN`` / ``ADJUSTMENT_APPROVAL_POINTS`` the panel asks for a
second admin's approval (``app.approvals``); ``apply_approved`` posts it then. The
checkout path never comes here: checkouts and recharges are audited by the journal itself.
"""

from __future__ import annotations

from typing import Any

from app.audit.services import record
from app.cards.models import Card
from app.cards.services import get_card
from app.db import utcnow
from app.errors import CardNotActive, InvalidRequest
from app.ledger import journal
from app.ledger.balances import card_balances
from app.ledger.journal import Entry
from app.ledger.operations import PostingResult, _announce, _within_maximum
from app.ledger.rules.engine import points_expiry
from app.limits import MAX_POINTS

KIND = "adjustment"
#: The approvals kind whose handler is ``apply_approved``.
APPROVAL_KIND = "balance_adjustment"
MAX_REASON_CHARS = 500


def check_adjustment(points: Any, amount_fen: Any, reason: Any) -> tuple[int, int, str]:
    """The request's numbers and reason, or ``InvalidRequest`` naming the field."""
    for name, value in (("points", points), ("amount_fen", amount_fen)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidRequest(f"{name} must be a whole number", field=name)
    if not points and not amount_fen:
        raise InvalidRequest(
            "adjust points or stored value", field="points", reason="nothing_to_adjust"
        )
    if abs(points) > MAX_POINTS:
        raise InvalidRequest(f"at most {MAX_POINTS} points at once", field="points")
    _within_maximum(abs(amount_fen))
    text = reason.strip() if isinstance(reason, str) else ""
    if not text:
        raise InvalidRequest("an adjustment needs a reason", field="reason", reason="reason")
    if len(text) > MAX_REASON_CHARS:
        raise InvalidRequest(f"a reason is at most {MAX_REASON_CHARS} characters", field="reason")
    return points, amount_fen, text


def adjust(
    card: Card,
    *,
    points: int = 0,
    amount_fen: int = 0,
    reason: str,
    key: str,
    actor: str | None,
    details: dict[str, Any] | None = None,
) -> PostingResult:
    points, amount_fen, reason = check_adjustment(points, amount_fen, reason)
    request = {"op": KIND, "card": card.id, "points": points, "amount_fen": amount_fen}
    req_hash = journal.request_hash(request)
    earlier = journal.find_posted(key, req_hash)
    if earlier is not None:
        return PostingResult(earlier.id, card_balances(card.id), replayed=True)
    if card.state != "active":
        raise CardNotActive(f"the card is {card.state}", state=card.state)
    before = card_balances(card.id)
    entries: list[Entry] = []
    if points > 0:
        entries += journal.from_issued(
            "points", points, card.id, expires_on=points_expiry(utcnow())
        )
    elif points < 0:
        entries += [
            Entry("points", points, card_id=card.id),
            Entry("points", -points, system="issued"),
        ]
    if amount_fen:
        entries += [
            Entry("stored_value_paid", amount_fen, card_id=card.id),
            Entry("stored_value_paid", -amount_fen, system="issued"),
        ]
    posting = journal.post(
        KIND,
        key,
        entries,
        request=request,
        reason="manual",
        store_id=card.issued_store_id,
        actor=actor,
        card_id=card.id,
        member_id=card.member_id,
        details={"reason": reason, **(details or {})},
        key_checked=True,
        req_hash=req_hash,
    )
    after = card_balances(card.id)
    if not posting.replayed:
        record(
            "balance.adjust",
            "card",
            card.number,
            before={"points": before.points, "stored_value_fen": before.stored_value_fen},
            after={
                "points": after.points,
                "stored_value_fen": after.stored_value_fen,
                "reason": reason,
                "transaction": posting.transaction.id,
                **(details or {}),
            },
        )
        _announce(posting, card=card, balances=after, amount_fen=0, points_delta=points, store=None)
    return PostingResult(posting.transaction.id, after, replayed=posting.replayed)


def adjustment_request(card: Card, points: int, amount_fen: int, reason: str) -> dict[str, Any]:
    """What an approval request keeps until it is approved (checked now, posted later)."""
    points, amount_fen, reason = check_adjustment(points, amount_fen, reason)
    return {"card": card.number, "points": points, "amount_fen": amount_fen, "reason": reason}


def apply_approved(payload: dict[str, Any], requester: Any, approver: Any) -> dict[str, Any]:
    """The approvals handler: post the adjustment asked for, as the requester, once."""
    card = get_card(str(payload["card"]))
    result = adjust(
        card,
        points=int(payload["points"]),
        amount_fen=int(payload["amount_fen"]),
        reason=str(payload["reason"]),
        key=f"approval:{payload['request_id']}",
        actor=f"staff:{requester.username}",
        details={"requested_by": requester.username, "approved_by": approver.username},
    )
    return {"transaction": result.transaction_id}
