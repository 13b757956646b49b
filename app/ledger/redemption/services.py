"""Redemption (兑换): points for gifts and coupons, and coupons and vouchers used once.

Guarantees, each enforced by the database rather than by a read-then-write:

- **Stock never goes negative.** A gift's stock is taken by
  ``UPDATE gift SET stock = stock - :q WHERE id = :id AND stock >= :q``; no row
  means ``out_of_stock``. The row lock it takes serialises redemptions of that
  gift, so sixteen counters asking for the last five gifts get exactly five.
- **Points are debited through the journal** (``kind="redemption"``), lots
  expiring first, never below zero (``insufficient_funds``); the debit and the
  stock move in one transaction, so a refusal of either writes nothing.
- **A coupon is redeemed once.** ``UPDATE coupon SET state = 'redeemed' WHERE
  id = :id AND state = 'issued'``; no row means ``coupon_used``. A coupon past
  its last day (local date) is ``coupon_expired``.
- **Idempotent.** Each points posting carries the caller's key; the same key
  and request again returns the first redemption and changes nothing.

Coupons and vouchers are used in one of two ways. A checkout may carry them
(``coupons`` in ``operations.checkout``): they are checked before the sale, their
discounts are part of its quote (``rules.coupon_effects``), and they are marked used
by the same checked UPDATE in the sale's own transaction, so no coupon is used
without its sale and a refused coupon refuses the sale. A refund that returns the
whole of such a sale gives its coupons back (``issued`` again, keeping their expiry);
a partial refund does not. Or the POS applies one to its own bill: redeeming it here
(``redeem_coupon``) marks it used and answers its value (``value_fen`` for a voucher,
``discount_bp`` for a coupon, with ``min_spend_fen``).
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update

from app import clock
from app.cards.models import Card
from app.db import db, utcnow
from app.errors import InvalidRequest, LaoyouError, NotFound
from app.ledger.balances import Balances, card_balances
from app.ledger.redemption.models import Coupon, CouponType, Gift, Redemption
from app.members.models import Member
from app.signals import transaction_posted

MAX_QUANTITY = 100
#: Coupon codes: no 0/O, 1/I/L to misread at a counter.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 12


class OutOfStock(LaoyouError):
    code = "out_of_stock"
    status = 409


class CouponUsed(LaoyouError):
    code = "coupon_used"
    status = 409


class CouponExpired(LaoyouError):
    code = "coupon_expired"
    status = 409


class CouponMinSpend(LaoyouError):
    code = "coupon_min_spend"
    status = 409


#: Coupons one checkout may carry.
MAX_CHECKOUT_COUPONS = 5


@dataclass(frozen=True)
class CouponTerms:
    """A coupon's code with its type's terms, as ``rules.coupon_effects`` reads them."""

    code: str
    kind: str
    value_fen: int
    discount_bp: int
    min_spend_fen: int


def coupon_terms(coupon: Coupon) -> CouponTerms:
    kind = coupon.coupon_type
    return CouponTerms(coupon.code, kind.kind, kind.value_fen, kind.discount_bp, kind.min_spend_fen)


@dataclass(frozen=True)
class RedemptionResult:
    redemption_id: int
    kind: str
    transaction_id: int | None
    points_spent: int
    balances: Balances
    gift: Gift | None = None
    coupon: Coupon | None = None
    replayed: bool = False


def get_gift(code: str) -> Gift:
    gift = db.session.scalar(select(Gift).where(Gift.code == code, Gift.active))
    if gift is None:
        raise NotFound(f"no gift {code!r}", field="gift")
    return gift


def list_gifts() -> list[Gift]:
    """The gift catalogue: active gifts by code, with their stock."""
    return list(db.session.scalars(select(Gift).where(Gift.active).order_by(Gift.code)))


def get_coupon_type(code: str) -> CouponType:
    kind = db.session.scalar(select(CouponType).where(CouponType.code == code, CouponType.active))
    if kind is None:
        raise NotFound(f"no coupon type {code!r}", field="coupon_type")
    return kind


# --- gifts -----------------------------------------------------------------------------


def redeem_gift(
    card: Card,
    gift_code: str,
    quantity: int = 1,
    *,
    key: str,
    store: Any = None,
    actor: str | None = None,
    pin: str | None = None,
    station: str | None = None,
) -> RedemptionResult:
    """Points for ``quantity`` of a gift, taking stock. Flushes; the caller commits."""
    from app.ledger import journal

    quantity = _quantity(quantity)
    request = {"op": "redeem_gift", "card": card.id, "gift": gift_code, "quantity": quantity}
    earlier = journal.find_posted(key, journal.request_hash(request))
    if earlier is not None:
        return _replay(earlier.id)
    _check_card(card, pin)
    gift = get_gift(gift_code)
    taken = db.session.execute(
        update(Gift)
        .where(Gift.id == gift.id, (Gift.stock.is_(None)) | (Gift.stock >= quantity))
        .values(stock=Gift.stock - quantity)
        .returning(Gift.stock)
    ).first()
    if taken is None:
        raise OutOfStock(f"{gift.name} is out of stock", gift=gift.code, quantity=quantity)
    db.session.refresh(gift, ["stock"])
    points = gift.points_cost * quantity
    posting = _debit(
        card,
        points,
        key=key,
        request=request,
        store=store,
        actor=actor,
        station=station,
        reason=f"gift:{gift.code}",
        details={"gift": gift.code, "quantity": quantity},
    )
    redemption = Redemption(
        kind="gift",
        card_id=card.id,
        member_id=card.member_id,
        gift_id=gift.id,
        quantity=quantity,
        points_spent=points,
        transaction_id=posting.id,
        store_id=store.id if store is not None else None,
    )
    return _finish(redemption, card, posting, store, gift=gift)


# --- coupons -----------------------------------------------------------------------------


def issue_coupon(
    member: Member,
    type_code: str,
    *,
    card: Card | None = None,
    key: str | None = None,
    store: Any = None,
    actor: str | None = None,
    pin: str | None = None,
    station: str | None = None,
    for_points: bool = False,
) -> RedemptionResult | Coupon:
    """Issue a coupon to a member: free (a campaign; returns the Coupon) or for points.

    ``for_points``: the member pays the type's ``points_cost`` from ``card``
    (with ``key`` for idempotency) and a ``RedemptionResult`` is returned.
    """
    from app.ledger import journal

    if not for_points:
        kind = get_coupon_type(type_code)
        return _new_coupon(kind, member)
    if card is None or key is None:
        raise InvalidRequest("a card and a key are needed to pay points", field="card")
    request = {"op": "exchange_coupon", "card": card.id, "coupon_type": type_code}
    earlier = journal.find_posted(key, journal.request_hash(request))
    if earlier is not None:
        return _replay(earlier.id)
    _check_card(card, pin)
    kind = get_coupon_type(type_code)
    if kind.points_cost <= 0:
        raise InvalidRequest(f"{kind.name} cannot be exchanged for points", field="coupon_type")
    coupon = _new_coupon(kind, member)
    posting = _debit(
        card,
        kind.points_cost,
        key=key,
        request=request,
        store=store,
        actor=actor,
        station=station,
        reason=f"coupon:{kind.code}",
        details={"coupon_type": kind.code, "coupon": coupon.code},
    )
    redemption = Redemption(
        kind="coupon_exchange",
        card_id=card.id,
        member_id=member.id,
        coupon_id=coupon.id,
        points_spent=kind.points_cost,
        transaction_id=posting.id,
        store_id=store.id if store is not None else None,
    )
    return _finish(redemption, card, posting, store, coupon=coupon)


def redeem_coupon(
    card: Card, code: str, *, store: Any = None, actor: str | None = None
) -> RedemptionResult:
    """Use a member's coupon or voucher once, at the counter."""
    coupon = usable_coupon(card, code)
    redemption = _use(coupon, card, store)
    return RedemptionResult(
        redemption.id, "coupon_use", None, 0, card_balances(card.id), coupon=coupon
    )


def usable_coupon(card: Card, code: str, *, field: str = "coupon") -> Coupon:
    """The card's member's coupon ``code``, issued and not expired, or a refusal."""
    coupon = db.session.scalar(select(Coupon).where(Coupon.code == code.strip().upper()))
    if coupon is None or card.member_id is None or coupon.member_id != card.member_id:
        raise NotFound(f"no coupon {code!r} for this card's member", field=field, coupon=code)
    if coupon.state != "issued":
        raise CouponUsed(f"coupon {coupon.code} was already used", coupon=coupon.code)
    if clock.local_today() > coupon.expires_on:
        raise CouponExpired(
            f"coupon {coupon.code} expired on {coupon.expires_on.isoformat()}",
            coupon=coupon.code,
            expires_on=coupon.expires_on.isoformat(),
        )
    return coupon


def checkout_coupons(card: Card, codes: list[str] | None) -> list[Coupon]:
    """The coupons a checkout carries, each checked by :func:`usable_coupon` (nothing written)."""
    if not codes:
        return []
    if not isinstance(codes, list) or not all(isinstance(c, str) and c.strip() for c in codes):
        raise InvalidRequest("coupons must be a list of coupon codes", field="coupons")
    if len(codes) > MAX_CHECKOUT_COUPONS:
        raise InvalidRequest(
            f"a checkout takes at most {MAX_CHECKOUT_COUPONS} coupons", field="coupons"
        )
    if len({c.strip().upper() for c in codes}) != len(codes):
        raise InvalidRequest("a coupon is given twice", field="coupons")
    return [usable_coupon(card, code, field="coupons") for code in codes]


def use_in_checkout(coupons: list[Coupon], card: Card, store: Any, transaction_id: int) -> None:
    """Mark the checkout's coupons used, in its transaction; a coupon used meanwhile refuses
    the whole checkout (``coupon_used``), which the unit of work then rolls back."""
    for coupon in coupons:
        _use(coupon, card, store, transaction_id=transaction_id)


def return_checkout_coupons(transaction_id: int) -> list[str]:
    """Give back the coupons the checkout ``transaction_id`` used (its whole refund): codes."""
    ids = list(
        db.session.scalars(
            select(Redemption.coupon_id).where(
                Redemption.transaction_id == transaction_id,
                Redemption.kind == "coupon_use",
            )
        )
    )
    if not ids:
        return []
    returned = db.session.execute(
        update(Coupon)
        .where(Coupon.id.in_(ids), Coupon.state == "redeemed")
        .values(state="issued", redeemed_at=None, redeemed_store_id=None)
        .returning(Coupon.code)
    ).scalars()
    return sorted(returned)


def _use(
    coupon: Coupon, card: Card, store: Any, *, transaction_id: int | None = None
) -> Redemption:
    """The checked UPDATE that uses a coupon once, and its redemption row."""
    used = db.session.execute(
        update(Coupon)
        .where(Coupon.id == coupon.id, Coupon.state == "issued")
        .values(
            state="redeemed",
            redeemed_at=utcnow(),
            redeemed_store_id=store.id if store is not None else None,
        )
        .returning(Coupon.id)
    ).first()
    if used is None:
        raise CouponUsed(f"coupon {coupon.code} was already used", coupon=coupon.code)
    db.session.refresh(coupon)
    redemption = Redemption(
        kind="coupon_use",
        card_id=card.id,
        member_id=card.member_id,
        coupon_id=coupon.id,
        points_spent=0,
        transaction_id=transaction_id,
        store_id=store.id if store is not None else None,
    )
    db.session.add(redemption)
    db.session.flush()
    return redemption


def member_coupons(member: Member, *, usable_only: bool = False) -> list[Coupon]:
    stmt = select(Coupon).where(Coupon.member_id == member.id).order_by(Coupon.id)
    if usable_only:
        stmt = stmt.where(Coupon.state == "issued", Coupon.expires_on >= clock.local_today())
    return list(db.session.scalars(stmt))


# --- internals ----------------------------------------------------------------------------


def _quantity(quantity: Any) -> int:
    if (
        isinstance(quantity, bool)
        or not isinstance(quantity, int)
        or not 1 <= quantity <= MAX_QUANTITY
    ):
        raise InvalidRequest(f"quantity must be 1 to {MAX_QUANTITY}", field="quantity")
    return quantity


def _check_card(card: Card, pin: str | None) -> None:
    """Spending points needs a usable card and, when it has one, its PIN."""
    from app.cards.services import verify_pin
    from app.ledger.operations import ensure_usable

    ensure_usable(card)
    if card.pin_hash is not None:
        verify_pin(card, pin)


def new_coupon_code() -> str:
    """A random coupon code (what the member shows at the counter)."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def list_coupon_types() -> list[CouponType]:
    """The active coupon and voucher types, by code (what a promotion may give)."""
    return list(
        db.session.scalars(select(CouponType).where(CouponType.active).order_by(CouponType.code))
    )


def gift_coupon_type(code: str) -> CouponType | None:
    """The active coupon type a promotion gives, or None (retired since: nothing to give)."""
    return db.session.scalar(select(CouponType).where(CouponType.code == code, CouponType.active))


def give_coupon(kind: CouponType, member: Member, code: str) -> Coupon:
    """A free coupon with a code chosen beforehand: a checkout's promotion writes the code
    into its (immutable) transaction first, then gives the coupon in the same transaction."""
    return _new_coupon(kind, member, code)


def _new_coupon(kind: CouponType, member: Member, code: str | None = None) -> Coupon:
    coupon = Coupon(
        code=code or new_coupon_code(),
        coupon_type=kind,
        member_id=member.id,
        state="issued",
        expires_on=clock.local_today() + dt.timedelta(days=kind.valid_days - 1),
    )
    db.session.add(coupon)
    db.session.flush()
    return coupon


def _debit(
    card: Card,
    points: int,
    *,
    key: str,
    request: dict[str, Any],
    store: Any,
    actor: str | None,
    station: str | None,
    reason: str,
    details: dict[str, Any],
) -> Any:
    from app.ledger import journal

    return journal.post(
        "redemption",
        key,
        [
            journal.Entry("points", -points, card_id=card.id),
            journal.Entry("points", points, system="spent"),
        ],
        request=request,
        reason=reason,
        store_id=store.id if store is not None else None,
        station=station,
        actor=actor,
        card_id=card.id,
        member_id=card.member_id,
        details=details,
        key_checked=True,
    )


def _finish(
    redemption: Redemption,
    card: Card,
    posting: Any,
    store: Any,
    *,
    gift: Gift | None = None,
    coupon: Coupon | None = None,
) -> RedemptionResult:
    db.session.add(redemption)
    db.session.flush()
    balances = card_balances(card.id)
    transaction_posted.send(
        posting.transaction,
        kind="redemption",
        card=card,
        member=card.member,
        amount_fen=0,
        points_delta=-redemption.points_spent,
        balances=balances,
        store=store,
    )
    return RedemptionResult(
        redemption.id,
        redemption.kind,
        posting.id,
        redemption.points_spent,
        balances,
        gift=gift,
        coupon=coupon,
    )


def _replay(transaction_id: int) -> RedemptionResult:
    redemption = db.session.scalar(
        select(Redemption).where(Redemption.transaction_id == transaction_id)
    )
    if redemption is None:  # pragma: no cover - a redemption posting always has its row
        raise NotFound("the earlier redemption has no record")
    return RedemptionResult(
        redemption.id,
        redemption.kind,
        transaction_id,
        redemption.points_spent,
        card_balances(redemption.card_id),
        gift=db.session.get(Gift, redemption.gift_id) if redemption.gift_id else None,
        coupon=db.session.get(Coupon, redemption.coupon_id) if redemption.coupon_id else None,
        replayed=True,
    )
