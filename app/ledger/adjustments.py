"""Staff corrections of a card's balances: a manual adjustment, and a card's return (退卡).

Both are journal transactions on the normal path (``journal.post`` under the card's
account locks, idempotent by key) and never touch growth. The written rules (also in
docs/architecture.md, "Manual adjustments and card returns"):

- **Adjustment** (``kind="adjustment"``): points or stored value up or down, with a
  mandatory reason, against the ``issued`` system account (a correction of what was
  issued). Points given open a lot expiring as earned points do (the rules'
  ``points_expiry``); points taken use the lots that expire first. Stored value given is
  bonus value (a goodwill credit is not money paid in, so a return does not pay it out
  as cash); stored value taken comes from bonus value first, then from paid value, and
  never below zero or the card's credit limit. One adjustment moves at most
  ``MAX_TRANSACTION_FEN`` fen and ``MAX_POINTS`` points. No alert is sent (messaging
  alerts checkouts, recharges and refunds only); the member's statement shows it.
- **Return** (``kind="return"``): the card's paid stored value is refunded (money out,
  back to ``issued``); the bonus value given on top of recharges is forfeited (to
  ``breakage``), and so are remaining visits; points move to the member's other working
  card (their primary card first), or are forfeited when there is none. The card is then
  cancelled through ``app.cards.services.change_state``. An overdrawn card is refused
  (``card_overdrawn``): the debt is settled first. Paid and bonus value are the card's
  own two accounts: every recharge posts its bonus to ``stored_value_bonus`` and the
  money to ``stored_value_paid``, and every spend takes from both pro rata, so the
  journal always knows which part is the member's money.

Every adjustment is written to the audit log with the balances before and after. Above
``ADJUSTMENT_APPROVAL_FEN`` / ``ADJUSTMENT_APPROVAL_POINTS`` the panel asks a second
admin's approval first (``app.approvals``, kind ``APPROVAL_KIND``); ``apply_approved``
posts it then, once, keyed by the request. The checkout path never comes here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from flask import current_app
from sqlalchemy import select

from app.audit.services import record
from app.cards.models import Card
from app.db import db, utcnow
from app.errors import AmountTooLarge, CardNotActive, CardOverdrawn, InvalidRequest
from app.ledger import journal
from app.ledger.balances import Balances, card_balances
from app.ledger.journal import Entry
from app.ledger.models import PointsLot
from app.ledger.operations import CARD_ASSETS, _announce, _balances_after
from app.ledger.rules.engine import credit_limit
from app.limits import MAX_POINTS

#: A reason is what staff typed: kept whole in the transaction's details and the card event.
MAX_REASON_CHARS = 200
#: No control character (C0, DEL, C1) and no line or paragraph separator: one line.
_NOT_IN_A_LINE = "\x00-\x1f\x7f-\x9f\u2028\u2029"
#: White space ``str.strip`` drops that is not already excluded above.
_SPACES = " \xa0\u1680\u2000-\u200a\u202f\u205f\u3000"
#: A reason: one line with something in it besides white space (the API documents it).
REASON_PATTERN = f"^[^{_NOT_IN_A_LINE}]*[^{_NOT_IN_A_LINE}{_SPACES}][^{_NOT_IN_A_LINE}]*$"
#: ``actor`` names who asked: ``staff:<username>``, ``cli:<os user>``, ``apikey:<id>``.
MAX_ACTOR_CHARS = 64
#: The approvals kind whose handler is ``apply_approved``.
APPROVAL_KIND = "balance_adjustment"


@dataclass(frozen=True)
class AdjustmentResult:
    transaction_id: int
    #: Signed, as asked.
    points: int
    stored_value_fen: int
    balances: Balances
    replayed: bool = False


@dataclass(frozen=True)
class ReturnResult:
    transaction_id: int
    #: The member's paid stored value, given back in money.
    refunded_fen: int
    #: Recharge bonus value left on the card, forfeited.
    bonus_forfeited_fen: int
    #: Points moved to ``points_moved_to`` (a card number), or forfeited when None.
    points_moved: int
    points_moved_to: str | None
    points_forfeited: int
    visits_forfeited: int
    replayed: bool = False


def clean_reason(reason: Any) -> str:
    """The reason as stored: required, one line of text, at most 200 characters."""
    text = reason.strip() if isinstance(reason, str) else ""
    if not text:
        raise InvalidRequest("a reason is required", field="reason", reason="reason")
    if len(text) > MAX_REASON_CHARS:
        raise InvalidRequest(f"a reason is at most {MAX_REASON_CHARS} characters", field="reason")
    if not re.fullmatch(REASON_PATTERN, text):
        raise InvalidRequest("a reason is one line of text", field="reason")
    return text


def _clean_actor(actor: Any) -> str:
    if not isinstance(actor, str) or not actor.strip() or len(actor) > MAX_ACTOR_CHARS:
        raise InvalidRequest(f"actor is 1 to {MAX_ACTOR_CHARS} characters", field="actor")
    return actor.strip()


def _signed(value: Any, field: str, maximum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequest(f"{field} must be a whole number", field=field)
    if abs(value) > maximum:
        raise AmountTooLarge(
            f"{field} is more than one adjustment may move ({maximum}); check for a typo",
            field=field,
            maximum=maximum,
        )
    return value


def _amounts(points: Any, stored_value_fen: Any) -> tuple[int, int]:
    """An adjustment's points and fen, each a whole number within one posting's maximum,
    not both zero; ``InvalidRequest`` / ``AmountTooLarge`` naming the field otherwise."""
    points = _signed(points, "points", MAX_POINTS)
    fen = _signed(stored_value_fen, "stored_value_fen", current_app.config["MAX_TRANSACTION_FEN"])
    if not points and not fen:
        raise InvalidRequest(
            "an adjustment moves points or stored value", field="points", reason="nothing_to_adjust"
        )
    return points, fen


def _not_cancelled(card: Card) -> None:
    if card.state == "cancelled":
        raise CardNotActive("the card is cancelled", state=card.state)


# --- adjustment ---------------------------------------------------------------------------


def adjust(
    card: Card,
    *,
    points: int = 0,
    stored_value_fen: int = 0,
    reason: str,
    actor: str,
    key: str,
    store: Any = None,
    details: dict[str, Any] | None = None,
) -> AdjustmentResult:
    """Move a card's points and/or stored value up (positive) or down (negative).

    ``details`` (who requested and who approved, say) is kept with the transaction and
    in the audit entry.

    ``key`` makes it happen once (the journal key is ``adjust:<key>``): the same key and
    request again returns the first result; another request with it is
    ``idempotency_conflict``. Refusals (``insufficient_funds``, ``amount_too_large``,
    ``card_not_active`` for a cancelled card, ``invalid_request``) write nothing.
    """
    from app.ledger.rules import engine as rules

    points, fen = _amounts(points, stored_value_fen)
    reason = clean_reason(reason)
    actor = _clean_actor(actor)
    request = {
        "op": "adjust",
        "card": card.id,
        "points": points,
        "stored_value_fen": fen,
        "reason": reason,
    }
    req_hash = journal.request_hash(request)
    journal_key = f"adjust:{key}"
    earlier = journal.find_posted(journal_key, req_hash)
    if earlier is not None:
        return _adjustment_replay(earlier)
    locked = journal.lock_card_accounts([card.id], CARD_ASSETS)
    db.session.refresh(card, ["state"])  # as it is now that its accounts are ours
    _not_cancelled(card)
    before = card_balances(card.id)

    entries: list[Entry] = []
    if points > 0:
        entries += journal.from_issued(
            "points", points, card.id, expires_on=rules.points_expiry(utcnow())
        )
    elif points < 0:
        entries += [
            Entry("points", points, card_id=card.id),
            Entry("points", -points, system="issued"),
        ]
    bonus_part = paid_part = 0
    if fen > 0:
        bonus_part = fen
        entries += journal.from_issued("stored_value_bonus", fen, card.id)
    elif fen < 0:
        bonus_held = max(int(locked[(card.id, "stored_value_bonus")].balance), 0)
        bonus_part = -min(-fen, bonus_held)
        paid_part = fen - bonus_part
        if bonus_part:
            entries += [
                Entry("stored_value_bonus", bonus_part, card_id=card.id),
                Entry("stored_value_bonus", -bonus_part, system="issued"),
            ]
        if paid_part:
            entries += [
                Entry(
                    "stored_value_paid",
                    paid_part,
                    card_id=card.id,
                    overdraft=credit_limit(card),
                ),
                Entry("stored_value_paid", -paid_part, system="issued"),
            ]
    posting = journal.post(
        "adjustment",
        journal_key,
        entries,
        request=request,
        reason="manual",
        store_id=store.id if store is not None else None,
        actor=actor,
        card_id=card.id,
        member_id=card.member_id,
        details={
            "reason": reason,
            "points": points,
            "stored_value_fen": fen,
            "stored_value_paid_fen": paid_part,
            "stored_value_bonus_fen": bonus_part,
            **(details or {}),
        },
        accounts=locked,
        key_checked=True,
        req_hash=req_hash,
    )
    if posting.replayed:
        return _adjustment_replay(posting.transaction)
    balances = _balances_after(card.id, locked, posting)
    record(
        "balance.adjust",
        "card",
        card.number,
        before={"points": before.points, "stored_value_fen": before.stored_value_fen},
        after={
            "points": balances.points,
            "stored_value_fen": balances.stored_value_fen,
            "reason": reason,
            "transaction": posting.id,
            **(details or {}),
        },
    )
    _announce(posting, card=card, balances=balances, amount_fen=0, points_delta=points, store=store)
    return AdjustmentResult(posting.id, points, fen, balances)


def adjustment_request(
    card: Card, points: int, stored_value_fen: int, reason: str
) -> dict[str, Any]:
    """What an approval request keeps until it is approved: checked now, posted later."""
    points, fen = _amounts(points, stored_value_fen)
    _not_cancelled(card)
    return {
        "card": card.number,
        "points": points,
        "stored_value_fen": fen,
        "reason": clean_reason(reason),
    }


def apply_approved(payload: dict[str, Any], requester: Any, approver: Any) -> dict[str, Any]:
    """The approvals handler: post the adjustment asked for, as the requester, once."""
    from app.cards.services import get_card

    result = adjust(
        get_card(str(payload["card"])),
        points=int(payload["points"]),
        stored_value_fen=int(payload["stored_value_fen"]),
        reason=str(payload["reason"]),
        key=f"approval:{payload['request_id']}",
        actor=f"staff:{requester.username}",
        details={"requested_by": requester.username, "approved_by": approver.username},
    )
    return {"transaction": result.transaction_id}


def _adjustment_replay(txn: Any) -> AdjustmentResult:
    details = txn.details or {}
    return AdjustmentResult(
        txn.id,
        int(details.get("points", 0)),
        int(details.get("stored_value_fen", 0)),
        card_balances(txn.card_id) if txn.card_id else Balances(),
        replayed=True,
    )


# --- return (退卡) -------------------------------------------------------------------------


def return_card(
    card: Card,
    *,
    reason: str,
    actor: str,
    key: str,
    store: Any = None,
    station: str | None = None,
    external_ref: str | None = None,
) -> ReturnResult:
    """Return a card: refund its paid value, forfeit its bonus and visits, keep the points
    with the member where they hold another card, cancel it. See the module docstring.

    The journal key is ``return:<key>``; the same key again answers as the first time.
    """
    from app.cards.services import change_state, member_cards
    from app.cards.states import next_state

    reason = clean_reason(reason)
    actor = _clean_actor(actor)
    request = {
        "op": "return",
        "card": card.id,
        "reason": reason,
        "station": station,
        "external_ref": external_ref,
    }
    req_hash = journal.request_hash(request)
    journal_key = f"return:{key}"
    earlier = journal.find_posted(journal_key, req_hash)
    if earlier is not None:
        return _return_result(earlier, replayed=True)

    home = _points_home(card, member_cards(card.member) if card.member is not None else [])
    locked = journal.lock_card_accounts(
        [card.id] + ([home.id] if home is not None else []), CARD_ASSETS
    )
    db.session.refresh(card, ["state"])  # a concurrent return may have cancelled it
    _not_cancelled(card)
    next_state("cancel", card.state)  # refused before anything is posted

    def held(asset: str) -> int:
        return int(locked[(card.id, asset)].balance)

    paid, bonus, visits = held("stored_value_paid"), held("stored_value_bonus"), held("visits")
    if paid < 0:
        raise CardOverdrawn(
            f"the card is overdrawn by {-paid} fen: settle the debt before returning it",
            overdrawn_fen=-paid,
        )
    entries: list[Entry] = []
    if paid:
        entries += [
            Entry("stored_value_paid", -paid, card_id=card.id),
            Entry("stored_value_paid", paid, system="issued"),
        ]
    for asset, amount in (("stored_value_bonus", bonus), ("visits", visits)):
        if amount:
            entries += [
                Entry(asset, -amount, card_id=card.id),
                Entry(asset, amount, system="breakage"),
            ]
    lots = db.session.execute(
        select(PointsLot.id, PointsLot.remaining, PointsLot.expires_on, PointsLot.earned_at)
        .where(
            PointsLot.account_id == locked[(card.id, "points")].id,
            PointsLot.remaining > 0,
        )
        .order_by(PointsLot.id)
    ).all()
    points = sum(int(lot.remaining) for lot in lots)
    if points and home is not None:
        for lot in lots:
            entries += [
                Entry(
                    "points", -int(lot.remaining), card_id=card.id, lots=[(lot.id, lot.remaining)]
                ),
                Entry(
                    "points",
                    int(lot.remaining),
                    card_id=home.id,
                    expires_on=lot.expires_on,
                    earned_at=lot.earned_at,
                    moved_from_lot_id=lot.id,
                ),
            ]
    elif points:
        entries += [
            Entry(
                "points",
                -points,
                card_id=card.id,
                lots=[(lot.id, int(lot.remaining)) for lot in lots],
            ),
            Entry("points", points, system="breakage"),
        ]
    moved = points if home is not None else 0
    posting = journal.post(
        "return",
        journal_key,
        entries,
        request=request,
        reason="card_returned",
        store_id=store.id if store is not None else None,
        station=station,
        actor=actor,
        external_ref=external_ref,
        card_id=card.id,
        member_id=card.member_id,
        amount_fen=paid,
        details={
            "reason": reason,
            "refunded_fen": paid,
            "bonus_forfeited_fen": bonus,
            "points_moved": moved,
            "points_moved_to": home.number if home is not None and moved else None,
            "points_forfeited": points - moved,
            "visits_forfeited": visits,
        },
        accounts=locked,
        key_checked=True,
        req_hash=req_hash,
    )
    if posting.replayed:
        return _return_result(posting.transaction, replayed=True)
    state_before = card.state
    change_state(card, "cancel", actor=actor, reason=reason)
    record(
        "card.return",
        "card",
        card.number,
        before={"state": state_before},
        after={
            "state": card.state,
            "transaction": posting.id,
            **(posting.transaction.details or {}),
        },
    )
    _announce(
        posting,
        card=card,
        balances=_balances_after(card.id, locked, posting),
        amount_fen=paid,
        points_delta=-points,
        store=store,
    )
    return _return_result(posting.transaction, replayed=False)


def _points_home(card: Card, cards: list[Card]) -> Card | None:
    """Where a returned card's points go: the member's primary card if it is another
    working card, else their first other active card, else any other card not cancelled."""
    others = [c for c in cards if c.id != card.id and c.state != "cancelled"]
    others.sort(key=lambda c: (not c.is_primary, c.state != "active", c.id))
    return others[0] if others else None


def _return_result(txn: Any, *, replayed: bool) -> ReturnResult:
    details = txn.details or {}
    return ReturnResult(
        txn.id,
        refunded_fen=int(details.get("refunded_fen", 0)),
        bonus_forfeited_fen=int(details.get("bonus_forfeited_fen", 0)),
        points_moved=int(details.get("points_moved", 0)),
        points_moved_to=details.get("points_moved_to"),
        points_forfeited=int(details.get("points_forfeited", 0)),
        visits_forfeited=int(details.get("visits_forfeited", 0)),
        replayed=replayed,
    )
