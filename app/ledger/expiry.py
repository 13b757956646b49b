"""``laoyou ledger expire --as-of DATE``: expired points lots go to breakage.

A lot whose last valid day is before ``as_of`` gives its remainder to the
``breakage`` account: one journal transaction per card, keyed
``expire:<as_of>:<account>``, so a run repeated for the same date (a retry, a
second scheduler host) finds its keys posted and changes nothing. Each card's
points account is locked before its lots are read, so a checkout spending the
same lots at that moment waits, and the run takes only what is left.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select

from app.cards.models import Card
from app.db import db
from app.ledger import journal
from app.ledger.journal import Entry
from app.ledger.models import Account, PointsLot
from app.signals import points_expiring

ACTOR = "job:expire"


@dataclass
class ExpiryReport:
    cards: int = 0
    lots: int = 0
    points: int = 0
    already_done: int = 0


def expire_lots(as_of: dt.date, *, actor: str = ACTOR) -> ExpiryReport:
    """Expire every lot with ``expires_on < as_of``; see the module docstring."""
    from app.ledger.operations import CARD_ASSETS, _announce, _balances_after

    report = ExpiryReport()
    candidates = db.session.execute(
        select(Account.id, Account.card_id)
        .where(
            Account.id.in_(
                select(PointsLot.account_id).where(
                    PointsLot.remaining > 0, PointsLot.expires_on < as_of
                )
            )
        )
        .order_by(Account.id)
    ).all()
    for account_id, card_id in candidates:
        assert card_id is not None  # lots live on card accounts only
        key = f"expire:{as_of.isoformat()}:{account_id}"
        if journal.find_posted(key, journal.request_hash(_request(as_of, account_id))):
            report.already_done += 1
            continue
        locked = journal.lock_card_accounts([card_id], CARD_ASSETS)
        due = db.session.execute(
            select(PointsLot.id, PointsLot.remaining)
            .where(
                PointsLot.account_id == account_id,
                PointsLot.remaining > 0,
                PointsLot.expires_on < as_of,
            )
            .order_by(PointsLot.id)
        ).all()
        total = sum(int(r) for _, r in due)
        if not total:
            continue
        card = db.session.get(Card, card_id)
        assert card is not None
        posting = journal.post(
            "expiry",
            key,
            [
                Entry("points", -total, card_id=card_id, lots=[(i, int(r)) for i, r in due]),
                Entry("points", total, system="breakage"),
            ],
            request=_request(as_of, account_id),
            reason="points_expired",
            actor=actor,
            card_id=card_id,
            member_id=card.member_id,
            details={"as_of": as_of.isoformat(), "lots": len(due)},
            accounts=locked,
            key_checked=True,
        )
        report.cards += 1
        report.lots += len(due)
        report.points += total
        _announce(
            posting,
            card=card,
            balances=_balances_after(card_id, locked, posting),
            amount_fen=0,
            points_delta=-total,
            store=None,
        )
    return report


def _request(as_of: dt.date, account_id: int) -> dict[str, object]:
    return {"op": "expire", "as_of": as_of.isoformat(), "account": account_id}


#: Days ahead the points-expiring reminder looks (the scheduler's job may pass its own).
REMIND_DAYS = 30


def remind_expiring(as_of: dt.date, *, days: int = REMIND_DAYS) -> int:
    """Announce, per card held by a member, the points whose last day falls within ``days``
    of ``as_of`` (the earliest such day); returns how many cards were announced.

    Messaging queues one reminder per card and expiry day, so a daily run repeats nothing.
    """
    until = as_of + dt.timedelta(days=days)
    rows = db.session.execute(
        select(Account.card_id, PointsLot.expires_on, func.sum(PointsLot.remaining))
        .join(PointsLot, PointsLot.account_id == Account.id)
        .join(Card, Card.id == Account.card_id)
        .where(
            PointsLot.remaining > 0,
            PointsLot.expires_on >= as_of,
            PointsLot.expires_on <= until,
            Card.member_id.is_not(None),
            Card.state == "active",
        )
        .group_by(Account.card_id, PointsLot.expires_on)
        .order_by(Account.card_id, PointsLot.expires_on)
    ).all()
    earliest: dict[int, tuple[dt.date, int]] = {}
    for card_id, expires_on, points in rows:
        if card_id is not None and expires_on is not None:  # the WHERE clause made sure
            earliest.setdefault(card_id, (expires_on, int(points)))
    for card_id, (expires_on, points) in earliest.items():
        card = db.session.get(Card, card_id)
        assert card is not None
        points_expiring.send(card, member=card.member, points=points, expires_on=expires_on)
    return len(earliest)
