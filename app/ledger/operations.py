"""Money operations at the counter: checkout, recharge, refund, load, and the replacement transfer.

Each function is one journal transaction inside the caller's unit of work
(it flushes, never commits) and raises a domain error, writing nothing, when
it refuses. Each takes an idempotency ``key``: the same key and request again
returns the first result and changes nothing; the same key with another
request is ``idempotency_conflict``.

The written rules (also in docs/architecture.md, "Ledger"):

- **Spending stored value**: paid money and bonus money are spent pro rata to
  the card's balances at the time: the bonus share is
  ``floor(charge × bonus / (paid + bonus))`` and paid money pays the rest. When
  the balances do not cover the charge, all the bonus goes first and paid money
  goes below zero, down to the card's credit limit (透支) and no further.
- **Paying with points** uses ``offset_points_per_yuan`` points per yuan,
  rounded up to a whole point. Points are earned on money only (cash or stored
  value): a purchase paid with points or visits earns neither points nor growth.
- **Split tender** (stored value + cash): ``pay_with`` cash with ``stored_value_fen``, the
  part of the charge the card pays (spent as a stored-value charge: bonus pro rata, paid
  money down to the credit limit); cash pays the rest, ``charged - stored_value_fen``, at
  least 1 fen (a card that covers it all pays with ``stored_value``). An optional
  ``cash_fen`` states the cash part the caller showed: the two must add up to the charge
  (after discounts, coupons and the points offset), else ``split_mismatch``. The whole
  charge earns points, as either way of paying does alone. The ledger has no account for
  the drawer: the journal lines carry the stored-value part, the details carry both
  (``stored_value_fen``, ``cash_fen``).
- **Visits**: a count-card checkout uses one visit, or the items' total quantity.
- **Refunds** give back each part of the purchase (paid money, bonus money,
  points spent, visits) and take back the points and growth it earned, in
  proportion to the money refunded. Cumulatively: after refunds totalling
  ``R`` of a purchase charged ``C``, each part's total returned so far is
  ``floor(part × R / C)``; a refund returns the difference from the previous
  refunds. So partial refunds never return more than the purchase had, and the
  last one returns exactly the rest. (Bonus money is the part computed; paid
  money is the refund less the bonus.) A split sale's refund gives its stored-value
  parts back to the card by the same rule and the rest in cash (``cash_back_fen``).
  Points spent come back as new lots with the expiry of the lots they came from,
  latest-expiring first. Points earned are taken back from the purchase's own lot
  first; if the member has spent them, the refund is refused (``insufficient_funds``)
  rather than letting the purchase keep points it no longer pays for.
- A purchase charged nothing (wholly offset by points) can only be refunded whole.
- **Coupons** a checkout carries are checked before it (``redemption.checkout_coupons``),
  take their discount after the level and card discount and before the points offset
  (``rules.coupon_effects``), and are marked used in the checkout's transaction; a
  refused coupon refuses the checkout. The refund that returns the whole purchase
  gives its coupons back; a partial refund keeps them used.
- **Promotions** in force (``app.ledger.promotions``: offered by the package that keeps
  them) apply to a member's checkout that earns points (cash or stored value) and charges
  money: their extra points are credited in the same lot as the points earned (so a refund
  takes them back in proportion), their coupons are given in the same transaction, and
  the transaction's ``details.promotions`` says which promotion gave what.
  ``points_earned`` (details and answer) is the total credited, promotions included.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flask import current_app
from sqlalchemy import func, select

from app import clock
from app.cards.models import Card
from app.db import db, utcnow
from app.db.prepared import driver_rows
from app.errors import (
    AmountTooLarge,
    CardNotActive,
    InvalidRequest,
    NotFound,
    NotRechargeable,
    NotRefundable,
    OutsideValidity,
    RefundExceedsPurchase,
    RefundOtherStore,
    SplitMismatch,
)
from app.ledger import journal
from app.ledger import promotions as promotion_seam
from app.ledger.balances import Balances, card_balances
from app.ledger.journal import Entry, Posting
from app.ledger.models import Line, PointsLot, Transaction
from app.ledger.redemption import services as redemption
from app.ledger.rules.engine import REVISION, credit_limit
from app.signals import transaction_posted
from app.stores.models import Store

PAY_WITH = ("stored_value", "cash", "visits", "points")
#: A card's own accounts, locked together by every operation on the card.
CARD_ASSETS = ("points", "stored_value_paid", "stored_value_bonus", "visits")


@dataclass(frozen=True)
class CheckoutResult:
    transaction_id: int
    discount_fen: int
    charged_fen: int
    points_earned: int
    balances: Balances
    replayed: bool = False
    #: Each coupon used: code, type, kind, name and its ``discount_fen``.
    coupons: tuple[dict[str, Any], ...] = ()
    #: Each promotion applied: id, names, the points it added and the coupon it gave.
    promotions: tuple[dict[str, Any], ...] = ()
    #: The charge's parts: from the card's stored value, and in cash.
    stored_value_fen: int = 0
    cash_fen: int = 0


@dataclass(frozen=True)
class RechargeResult:
    transaction_id: int
    bonus_fen: int
    balances: Balances
    replayed: bool = False


@dataclass(frozen=True)
class PostingResult:
    transaction_id: int
    balances: Balances
    replayed: bool = False


@dataclass(frozen=True)
class RefundResult:
    transaction_id: int
    balances: Balances
    #: Money given back by this refund.
    refunded_fen: int
    #: Points the purchase earned, taken back from the card.
    points_taken_back: int
    #: Points the purchase spent, given back to the card.
    points_returned: int
    replayed: bool = False
    #: The codes of the coupons given back (only by the purchase's whole refund).
    coupons_returned: tuple[str, ...] = ()
    #: The money given back, by where it goes: onto the card, and in cash.
    stored_value_back_fen: int = 0
    cash_back_fen: int = 0


def _whole(value: Any, field: str, *, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InvalidRequest(f"{field} must be a whole number, at least {minimum}", field=field)
    return value


def _within_maximum(amount_fen: int, field: str = "amount_fen") -> int:
    """Refuse more than one transaction may move (``MAX_TRANSACTION_FEN``): a typo's extra
    zeros would otherwise mint points, growth and a level."""
    maximum = current_app.config["MAX_TRANSACTION_FEN"]
    if amount_fen > maximum:
        raise AmountTooLarge(
            f"{field} is more than one transaction may move ({maximum} fen); check for a typo",
            field=field,
            maximum_fen=maximum,
        )
    return amount_fen


def ensure_usable(card: Card, *, today: dt.date | None = None) -> None:
    """An active card inside its validity window (period cards), or a refusal."""
    if card.state != "active":
        raise CardNotActive(f"the card is {card.state}", state=card.state)
    today = today or clock.local_today()
    if (card.valid_from and today < card.valid_from) or (
        card.valid_until and today > card.valid_until
    ):
        raise OutsideValidity(
            "the card is not valid today",
            valid_from=card.valid_from.isoformat() if card.valid_from else None,
            valid_until=card.valid_until.isoformat() if card.valid_until else None,
        )


def _balances_after(
    card_id: int, locked: Mapping[tuple[int, str], Any], posting: Posting
) -> Balances:
    """The card's balances after the posting, from the rows it locked and the lines' results."""
    values = {asset: int(locked[(card_id, asset)].balance) for asset in CARD_ASSETS}
    for line in posting.lines:
        if line.card_id == card_id and line.balance_after is not None:
            values[line.asset] = line.balance_after
    return Balances(
        points=values["points"],
        stored_value_fen=values["stored_value_paid"] + values["stored_value_bonus"],
        visits=values["visits"],
    )


def _announce(
    posting: Posting,
    *,
    card: Card,
    balances: Balances,
    amount_fen: int,
    points_delta: int,
    store: Any,
) -> None:
    transaction_posted.send(
        posting.transaction,
        kind=posting.transaction.kind,
        card=card,
        member=card.member,
        amount_fen=amount_fen,
        points_delta=points_delta,
        visits_delta=sum(
            p.amount for p in posting.lines if p.card_id == card.id and p.asset == "visits"
        ),
        balances=balances,
        store=store,
    )


def _points_delta(posting: Posting, card_id: int) -> int:
    return sum(p.amount for p in posting.lines if p.card_id == card_id and p.asset == "points")


# --- checkout ---------------------------------------------------------------------------


def checkout(
    card: Card,
    store: Any,
    amount_fen: int,
    pay_with: str,
    *,
    key: str,
    actor: str | None,
    points_offset: int = 0,
    items: Sequence[Mapping[str, Any]] | None = None,
    pin: str | None = None,
    station: str | None = None,
    external_ref: str | None = None,
    coupons: list[str] | None = None,
    stored_value_fen: int | None = None,
    cash_fen: int | None = None,
    list_price: bool = False,
    prelocked: tuple[Mapping[tuple[int, str], Any], Any] | None = None,
) -> CheckoutResult:
    """A purchase: discounts and points from the rules, payment from the card, points earned.

    ``coupons``: codes of the member's coupons to apply and use with it (see the module
    docstring). ``stored_value_fen`` (with ``pay_with`` cash, and optionally ``cash_fen``):
    a split tender, see the module docstring. ``list_price``: a cash sale the till already
    charged at the list price (a store station offline): posted as charged, no discount,
    points earned on it. ``prelocked``: (the card's accounts, a row
    with the key check and the rules' revision) already read and locked in this
    transaction by :func:`checkout_card`.
    """
    from app.cards.services import verify_pin
    from app.ledger.rules import engine as rules

    amount_fen = _within_maximum(_whole(amount_fen, "amount_fen"))
    points_offset = _whole(points_offset or 0, "points_offset")
    if pay_with not in PAY_WITH:
        raise InvalidRequest(f"pay_with must be one of {', '.join(PAY_WITH)}", field="pay_with")
    if amount_fen == 0 and pay_with != "visits":
        # A sale of nothing would still text the member "spent 0.00 yuan".
        raise InvalidRequest(
            "amount_fen must be at least 1 (only a count-card visit may be 0)", field="amount_fen"
        )
    split = split_parts(pay_with, stored_value_fen, cash_fen)
    if list_price and (pay_with != "cash" or split is not None or points_offset or coupons):
        raise InvalidRequest(
            "list_price is for a sale already paid in cash at the list price: not with "
            "stored value, points, points_offset or coupons",
            field="list_price",
        )
    request = {
        "op": "checkout",
        "card": card.id,
        "store": store.id if store is not None else None,
        "amount_fen": amount_fen,
        "pay_with": pay_with,
        "points_offset": points_offset,
        "items": items,
        "station": station,
        "external_ref": external_ref,
    }
    if coupons:  # only then: the hashes of checkouts without coupons stay what they were
        request["coupons"] = [c.strip().upper() if isinstance(c, str) else c for c in coupons]
    if split is not None:  # likewise: only a split tender's hash names its parts
        request["stored_value_fen"], request["cash_fen"] = split
    if list_price:
        request["list_price"] = True
    req_hash = journal.request_hash(request)
    # One statement: the card's accounts locked, whether the key is already posted, and
    # the rules' revision for the quote (a concurrent posting with this key that commits
    # while this waits for the lock is caught by the journal's INSERT, and replayed).
    if prelocked is not None:
        locked, start = prelocked
    else:
        locked, start = journal.lock_card_accounts_with(
            card.id, CARD_ASSETS, _checkout_lock(), {"key": key}
        )
    if start is None:  # the card's first posting: its accounts were just made
        start = db.session.execute(_CHECKOUT_START, {"key": key}).one()
    earlier = journal.earlier_posting(start.posted_id, start.posted_hash, req_hash)
    if earlier is not None:
        return _checkout_replay(earlier)
    in_force = rules.rules_at(start.revision)

    ensure_usable(card)
    spends_card_value = pay_with in ("stored_value", "points") or points_offset > 0 or bool(split)
    if card.pin_hash is not None and (pin is not None or spends_card_value):
        verify_pin(card, pin)
    member = card.member
    if member is None and (pay_with == "points" or points_offset):
        raise InvalidRequest("an anonymous card holds no points", field="pay_with")
    if coupons and pay_with == "visits":
        raise InvalidRequest("coupons take money off a bill, not visits", field="coupons")
    used_coupons = redemption.checkout_coupons(card, coupons)

    now = utcnow()
    quote = rules.quote_checkout(
        card=card,
        member=member,
        store=store,
        amount_fen=amount_fen,
        items=[dict(i) for i in items] if items is not None else None,
        points_offset=points_offset,
        at=now,
        rules=in_force,
        coupons=[redemption.coupon_terms(c) for c in used_coupons],
        list_price=list_price,
    )
    coupon_lines = tuple(
        {
            "code": c.code,
            "type": c.coupon_type.code,
            "kind": c.coupon_type.kind,
            "name": c.coupon_type.name,
            "discount_fen": off,
        }
        for c, off in zip(used_coupons, quote.coupon_discounts, strict=True)
    )
    charged = quote.charged_fen
    from_card = check_split(split, charged)
    earns = pay_with in ("cash", "stored_value")
    points_earned = quote.points_earned if earns else 0
    growth = quote.growth_earned if earns else 0
    visits_used = 0
    points_paid = 0
    if pay_with == "visits":
        visits_used = sum(int(i.get("quantity", 1)) for i in items) if items else 1
    elif pay_with == "points":
        per_yuan = in_force.offset_points_per_yuan
        points_paid = -(-charged * per_yuan // 100)
    applied_promotions = promotions_in_force(
        member, store, charged if earns else 0, items, now, points_earned
    )
    points_earned += sum(p["points"] for _, _, p, _ in applied_promotions)

    entries: list[Entry] = []
    paid_fen = bonus_fen = 0
    if from_card is None and pay_with == "stored_value":
        from_card = charged
    if from_card:
        paid_fen, bonus_fen = _split_stored_value(
            from_card,
            paid=int(locked[(card.id, "stored_value_paid")].balance),
            bonus=int(locked[(card.id, "stored_value_bonus")].balance),
        )
        entries += _spend("stored_value_bonus", bonus_fen, card.id)
        entries += _spend(
            "stored_value_paid", paid_fen, card.id, overdraft=rules.credit_limit(card, in_force)
        )
    entries += _spend("visits", visits_used, card.id)
    entries += _spend("points", points_offset + points_paid, card.id)
    if points_earned:
        entries += [
            Entry(
                "points",
                points_earned,
                card_id=card.id,
                expires_on=rules.points_expiry(now, in_force),
            ),
            Entry("points", -points_earned, system="issued"),
        ]

    posting = journal.post(
        "checkout",
        key,
        entries,
        request=request,
        store_id=store.id if store is not None else None,
        station=station,
        actor=actor,
        external_ref=external_ref,
        card_id=card.id,
        member_id=card.member_id,
        amount_fen=amount_fen,
        discount_fen=quote.discount_fen,
        charged_fen=charged,
        details={
            "pay_with": pay_with,
            "points_offset": points_offset,
            "points_offset_fen": quote.points_offset_fen,
            "points_paid": points_paid,
            "visits_used": visits_used,
            "stored_value_paid_fen": paid_fen,
            "stored_value_bonus_fen": bonus_fen,
            **(
                {"stored_value_fen": paid_fen + bonus_fen, "cash_fen": charged - from_card}
                if split is not None and from_card is not None
                else {}
            ),
            "points_earned": points_earned,
            "growth_earned": growth,
            "applied": list(quote.applied),
            "items": list(items) if items is not None else None,
            **({"coupons": list(coupon_lines)} if coupon_lines else {}),
            **(
                {"promotions": [p for _, _, p, _ in applied_promotions]}
                if applied_promotions
                else {}
            ),
        },
        accounts=locked,
        key_checked=True,
        req_hash=req_hash,
    )
    if posting.replayed:
        return _checkout_replay(posting.transaction)
    redemption.use_in_checkout(used_coupons, card, store, posting.id)
    _give_promotions(applied_promotions, member, posting.id)

    if member is not None and growth:
        from app.ledger.rules.levels import apply_growth

        apply_growth(member, growth, transaction_id=posting.id)
    _after_checkout_hook(posting, card)
    balances = _balances_after(card.id, locked, posting)
    _announce(
        posting,
        card=card,
        balances=balances,
        amount_fen=charged if pay_with in ("cash", "stored_value") else 0,
        points_delta=_points_delta(posting, card.id),
        store=store,
    )
    return CheckoutResult(
        transaction_id=posting.id,
        discount_fen=quote.discount_fen,
        charged_fen=charged,
        points_earned=points_earned,
        balances=balances,
        coupons=coupon_lines,
        promotions=tuple(p for _, _, p, _ in applied_promotions),
        stored_value_fen=paid_fen + bonus_fen,
        cash_fen=_cash_part(pay_with, charged, paid_fen + bonus_fen),
    )


def split_parts(
    pay_with: str, stored_value_fen: int | None, cash_fen: int | None
) -> tuple[int, int | None] | None:
    """A split tender's parts as asked, checked as numbers (the charge is known later):
    (stored value, the cash part stated or None), or None for a plain checkout."""
    if stored_value_fen is None:
        if cash_fen is not None:
            raise InvalidRequest(
                "cash_fen states a split tender's cash part: send stored_value_fen with it",
                field="cash_fen",
            )
        return None
    from_card = _within_maximum(
        _whole(stored_value_fen, "stored_value_fen", minimum=1), "stored_value_fen"
    )
    if cash_fen is not None:
        cash_fen = _within_maximum(_whole(cash_fen, "cash_fen", minimum=1), "cash_fen")
    if pay_with != "cash":
        raise InvalidRequest(
            "a split tender pays the rest in cash: send pay_with cash with stored_value_fen",
            field="pay_with",
        )
    return from_card, cash_fen


def check_split(split: tuple[int, int | None] | None, charged: int) -> int | None:
    """The stored-value part of a split tender against the charge, or ``split_mismatch``."""
    if split is None:
        return None
    from_card, cash_fen = split
    cash = charged - from_card
    if cash < 1 or (cash_fen is not None and cash_fen != cash):
        raise SplitMismatch(
            "stored_value_fen and the cash part must add up to charged_fen, with at least "
            "1 fen in cash (a card that pays it all: pay_with stored_value)",
            field="stored_value_fen",
            charged_fen=charged,
            stored_value_fen=from_card,
            cash_fen=cash_fen,
        )
    return from_card


def _cash_part(pay_with: str, charged: int, from_card: int) -> int:
    """The part of the charge paid in cash: all of a cash sale's but a split's card part."""
    return charged - from_card if pay_with == "cash" else 0


def checkout_card(
    ref: str,
    store: Any,
    amount_fen: int,
    pay_with: str,
    *,
    key: str,
    actor: str | None,
    **options: Any,
) -> CheckoutResult:
    """:func:`checkout` of the card ``ref`` names (a number, a medium or the holder's phone),
    as the API's view takes it: the card is found through ``app.cards``, then checkout
    takes the ledger's own locking read (the card's accounts, the key check, the rules'
    revision in one statement).

    With ``LEDGER_FUSED_CARD_READ`` on, a card number is first tried in one statement:
    ``app.cards``' piece for the card, its holder and level, with the locking read beside
    it, which saves the round trip of the card's own query (docs/benchmarks.md, issue 10).
    Anything that statement cannot serve (a medium, a phone, an unknown or replaced
    number, a card without accounts yet) goes the plain way, so every answer is the same.
    """
    from app.cards.services import resolve_card

    number = (ref or "").strip() if isinstance(ref, str) else ""
    if current_app.config["LEDGER_FUSED_CARD_READ"] and number.isdigit() and len(number) <= 128:
        found = _card_with_accounts(number, key)
        if found is not None:
            card, prelocked = found
            return checkout(
                card,
                store,
                amount_fen,
                pay_with,
                key=key,
                actor=actor,
                prelocked=prelocked,
                **options,
            )
    card = resolve_card(ref)
    return checkout(card, store, amount_fen, pay_with, key=key, actor=actor, **options)


_CARD_LOCK: list[dict[str, Any]] = []


def _card_with_accounts(
    number: str, key: str
) -> tuple[Card, tuple[dict[tuple[int, str], Any], Any]] | None:
    """The working card with this number and (its accounts locked, the checkout's start
    columns), from one statement; None when the plain path must answer."""
    from app.cards.lookup import card_from_row, holder_by_number

    if not _CARD_LOCK:
        _CARD_LOCK.append(
            journal.locking_read(_START_COLUMNS, _START_FIELDS, card=holder_by_number())
        )
    connection = db.connection()
    rows = _CARD_LOCK[0][connection.dialect.name].rows(connection, {"number": number, "key": key})
    if not rows or rows[0].c_replaced_by_id is not None:
        return None
    accounts = {(r.card_id, r.asset): r for r in rows}
    if not all((rows[0].card_id, asset) in accounts for asset in CARD_ASSETS):
        return None  # the card's first posting: checkout's own lock makes its accounts
    card = card_from_row(rows[0], driver_values=driver_rows())
    return card, (accounts, rows[0])


_START_COLUMNS = (REVISION.label("revision"), *journal.key_check())
_START_FIELDS = ("revision", "posted_id", "posted_hash")
#: The rules' revision and the key's earlier posting (id, request hash), if any.
_CHECKOUT_START = select(*_START_COLUMNS)
_LOCK: list[dict[str, Any]] = []


def _checkout_lock() -> dict[str, Any]:
    """The card's accounts locked, with the columns of ``_CHECKOUT_START`` beside them."""
    if not _LOCK:
        _LOCK.append(journal.locking_read(_START_COLUMNS, _START_FIELDS))
    return _LOCK[0]


#: (its provider, the offer, what it gives as the details write it, the coupon type to give).
_Applied = tuple[
    promotion_seam.PromotionsProvider, promotion_seam.Offer, dict[str, Any], Any | None
]


def promotions_in_force(
    member: Any,
    store: Any,
    charged_fen: int,
    items: Sequence[Mapping[str, Any]] | None,
    at: dt.datetime,
    base_points: int,
    *,
    coupon_codes: bool = True,
) -> list[_Applied]:
    """The promotions a member's checkout gets, each with what it gives (see the docstring).

    None for an anonymous card, or a checkout that charges no money or earns nothing
    (``charged_fen`` 0). A coupon type retired since the promotion was made gives nothing.
    The coupon's code is chosen here, so the transaction's details can name it; a quote
    (``coupon_codes=False``) reads the same offers and gives no code, as it posts nothing.
    """
    if member is None or charged_fen <= 0:
        return []
    facts = promotion_seam.CheckoutFacts(
        member_id=member.id,
        level_id=member.level_id,
        store_id=store.id if store is not None else None,
        charged_fen=charged_fen,
        categories=frozenset(
            str(i["category"]) for i in items or () if isinstance(i.get("category"), str)
        ),
        at=at,
    )
    applied: list[_Applied] = []
    for provider, offer in promotion_seam.offers_for(facts):
        kind = redemption.gift_coupon_type(offer.coupon_type) if offer.coupon_type else None
        line = {
            "id": offer.promotion_id,
            "names": dict(offer.names),
            "points": offer.extra_points(base_points),
            "coupon_type": kind.code if kind is not None else None,
            "coupon": redemption.new_coupon_code() if kind is not None and coupon_codes else None,
        }
        applied.append((provider, offer, line, kind))
    return applied


def _give_promotions(applied: list[_Applied], member: Any, transaction_id: int) -> None:
    """After the posting, in its transaction: each promotion's coupon, and its provider told."""
    for provider, offer, line, kind in applied:
        if kind is not None:
            redemption.give_coupon(kind, member, line["coupon"])
        provider.applied(
            offer,
            transaction_id=transaction_id,
            member_id=member.id,
            points=line["points"],
            coupon_code=line["coupon"],
        )


def _after_checkout_hook(posting: Posting, card: Card) -> None:
    """The rules' reaction to a purchase: the referral bonus on a member's first spend."""
    from app.ledger.rules import engine as rules

    rules.after_checkout(posting.transaction, card=card)


def _checkout_replay(txn: Transaction) -> CheckoutResult:
    details = txn.details or {}
    from_card = int(details.get("stored_value_paid_fen", 0)) + int(
        details.get("stored_value_bonus_fen", 0)
    )
    return CheckoutResult(
        transaction_id=txn.id,
        discount_fen=txn.discount_fen,
        charged_fen=txn.charged_fen,
        points_earned=int(txn.details.get("points_earned", 0)),
        balances=card_balances(txn.card_id) if txn.card_id else Balances(),
        replayed=True,
        coupons=tuple(txn.details.get("coupons", ())),
        promotions=tuple(txn.details.get("promotions", ())),
        stored_value_fen=from_card,
        cash_fen=_cash_part(str(txn.details.get("pay_with")), txn.charged_fen, from_card),
    )


def _split_stored_value(charge: int, *, paid: int, bonus: int) -> tuple[int, int]:
    """(paid part, bonus part) of a stored-value charge; see the module docstring."""
    available = max(paid, 0) + bonus
    if charge > available:
        return charge - bonus, bonus
    bonus_part = charge * bonus // available if available else 0
    return charge - bonus_part, bonus_part


def _spend(asset: str, amount: int, card_id: int, *, overdraft: int = 0) -> list[Entry]:
    if amount <= 0:
        return []
    return [
        Entry(asset, -amount, card_id=card_id, overdraft=overdraft),
        Entry(asset, amount, system="spent"),
    ]


# --- recharge and load --------------------------------------------------------------------


def recharge(
    card: Card,
    store: Any,
    amount_fen: int,
    *,
    key: str,
    actor: str | None,
    station: str | None = None,
    external_ref: str | None = None,
) -> RechargeResult:
    """Money paid in (充值), with the bonus the rules give (充值赠送) kept apart."""
    from app.ledger.rules import engine as rules

    amount_fen = _within_maximum(_whole(amount_fen, "amount_fen", minimum=1))
    request = {
        "op": "recharge",
        "card": card.id,
        "store": store.id if store is not None else None,
        "amount_fen": amount_fen,
        "station": station,
        "external_ref": external_ref,
    }
    req_hash = journal.request_hash(request)
    earlier = journal.find_posted(key, req_hash)
    if earlier is not None:
        return RechargeResult(
            earlier.id,
            int(earlier.details.get("bonus_fen", 0)),
            card_balances(card.id),
            replayed=True,
        )
    ensure_usable(card)
    if not card.rechargeable:
        raise NotRechargeable("this card cannot be recharged", card_type=card.type)
    bonus = rules.recharge_bonus(card=card, member=card.member, amount_fen=amount_fen, at=utcnow())
    entries = journal.from_issued("stored_value_paid", amount_fen, card.id)
    if bonus:
        entries += journal.from_issued("stored_value_bonus", bonus, card.id)
    locked = journal.lock_card_accounts([card.id], CARD_ASSETS)
    posting = journal.post(
        "recharge",
        key,
        entries,
        request=request,
        store_id=store.id if store is not None else None,
        station=station,
        actor=actor,
        external_ref=external_ref,
        card_id=card.id,
        member_id=card.member_id,
        amount_fen=amount_fen,
        details={"bonus_fen": bonus},
        accounts=locked,
        key_checked=True,
    )
    if posting.replayed:
        return RechargeResult(posting.id, bonus, card_balances(card.id), replayed=True)
    balances = _balances_after(card.id, locked, posting)
    _announce(
        posting, card=card, balances=balances, amount_fen=amount_fen, points_delta=0, store=store
    )
    return RechargeResult(posting.id, bonus, balances)


def load_value(
    card: Card,
    amount_fen: int,
    *,
    idempotency_key: str,
    actor: str | None,
    visits: int = 0,
    store: Any = None,
) -> PostingResult:
    """Preload a card as issued: a gift card's value, a count card's visits.

    Unlike a recharge it is allowed on cards that cannot be recharged: it is
    how they get their value in the first place.
    """
    amount_fen = _within_maximum(_whole(amount_fen, "amount_fen"))
    visits = _whole(visits, "visits")
    if not amount_fen and not visits:
        raise InvalidRequest("load a value or visits", field="amount_fen")
    request = {"op": "load", "card": card.id, "amount_fen": amount_fen, "visits": visits}
    req_hash = journal.request_hash(request)
    earlier = journal.find_posted(idempotency_key, req_hash)
    if earlier is not None:
        return PostingResult(earlier.id, card_balances(card.id), replayed=True)
    if card.state != "active":
        raise CardNotActive(f"the card is {card.state}", state=card.state)
    entries: list[Entry] = []
    if amount_fen:
        entries += journal.from_issued("stored_value_paid", amount_fen, card.id)
    if visits:
        entries += journal.from_issued("visits", visits, card.id)
    locked = journal.lock_card_accounts([card.id], CARD_ASSETS)
    posting = journal.post(
        "load",
        idempotency_key,
        entries,
        request=request,
        store_id=store.id if store is not None else card.issued_store_id,
        actor=actor,
        card_id=card.id,
        member_id=card.member_id,
        amount_fen=amount_fen,
        details={"visits": visits},
        accounts=locked,
        key_checked=True,
    )
    balances = _balances_after(card.id, locked, posting) if not posting.replayed else None
    if balances is None:
        return PostingResult(posting.id, card_balances(card.id), replayed=True)
    _announce(
        posting, card=card, balances=balances, amount_fen=amount_fen, points_delta=0, store=store
    )
    return PostingResult(posting.id, balances)


# --- refund -------------------------------------------------------------------------------


def refund(
    transaction_id: int,
    amount_fen: int | None = None,
    *,
    key: str,
    actor: str | None,
    store: Any = None,
    station: str | None = None,
    external_ref: str | None = None,
) -> RefundResult:
    """Refund a checkout, whole (``amount_fen=None``) or in part; see the module docstring.

    ``store`` is the store refunding (an API key's); with ``REFUND_SCOPE=store_of_sale`` it
    must be the store of sale. Left out (the command line, the demo) it is the store of sale.
    """
    if amount_fen is not None:
        amount_fen = _whole(amount_fen, "amount_fen", minimum=1)
    request = {
        "op": "refund",
        "transaction": transaction_id,
        "amount_fen": amount_fen,
        "station": station,
        "external_ref": external_ref,
    }
    req_hash = journal.request_hash(request)
    earlier = journal.find_posted(key, req_hash)
    if earlier is not None:
        return _refund_result(earlier, replayed=True)

    purchase = _lock_purchase(transaction_id)
    if purchase.kind != "checkout":
        raise NotRefundable(
            f"a {purchase.kind} transaction cannot be refunded", transaction_id=purchase.id
        )
    sold_at = db.session.get(Store, purchase.store_id) if purchase.store_id else None
    if store is None:
        store = sold_at
    elif (
        sold_at is not None
        and store.id != sold_at.id
        and current_app.config["REFUND_SCOPE"] == "store_of_sale"
    ):
        raise RefundOtherStore(
            f"this sale was made at store {sold_at.code}; only that store may refund it",
            store_of_sale=sold_at.code,
        )
    refunded_before, refunds_before = db.session.execute(
        select(
            func.coalesce(func.sum(Transaction.amount_fen), 0), func.count(Transaction.id)
        ).where(Transaction.reverses_id == purchase.id, Transaction.kind == "refund")
    ).one()
    charged = purchase.charged_fen
    left = charged - int(refunded_before)
    if charged == 0:
        if refunds_before or amount_fen:
            raise RefundExceedsPurchase(
                "this purchase charged nothing: it can only be refunded whole, once",
                refundable_fen=0,
            )
        amount, share = 0, _Share(0, 1, 1)
    else:
        if left == 0:
            raise RefundExceedsPurchase(
                "this purchase is already refunded in full",
                refundable_fen=0,
                refunded_fen=int(refunded_before),
                requested_fen=amount_fen,
            )
        amount = left if amount_fen is None else amount_fen
        if amount > left:
            raise RefundExceedsPurchase(
                "the refund is more than what is left of the purchase",
                refundable_fen=left,
                refunded_fen=int(refunded_before),
                requested_fen=amount,
            )
        share = _Share(int(refunded_before), int(refunded_before) + amount, charged)

    card = _current_card(purchase.card_id)
    if card.state == "cancelled":
        raise CardNotActive("the card is cancelled", state=card.state)
    parts = _purchase_parts(purchase.id)
    entries: list[Entry] = []
    points_returned = 0
    bonus_back = share.back(parts["stored_value_bonus"])
    paid_back = share.back(parts["stored_value_bonus"] + parts["stored_value_paid"]) - bonus_back
    for asset, value in (
        ("stored_value_paid", paid_back),
        ("stored_value_bonus", bonus_back),
        ("visits", share.back(parts["visits"])),
    ):
        if value:
            entries += [
                Entry(asset, value, card_id=card.id),
                Entry(asset, -value, system="spent"),
            ]
    for lot_id, expires_on, earned_at, points in _restored_lots(
        purchase.id, share, parts["points_spent"]
    ):
        points_returned += points
        entries += [
            Entry(
                "points",
                points,
                card_id=card.id,
                expires_on=expires_on,
                earned_at=earned_at,
                moved_from_lot_id=lot_id,
            ),
            Entry("points", -points, system="spent"),
        ]
    clawback = share.back(parts["points_earned"])
    if clawback:
        entries += [
            Entry("points", -clawback, card_id=card.id, prefer_lots=_earned_lot(purchase.id)),
            Entry("points", clawback, system="issued"),
        ]

    details = purchase.details or {}
    money_back = amount if details.get("pay_with") in ("cash", "stored_value") else 0
    # A split sale: what is not given back onto the card goes back in cash.
    cash_back = money_back - paid_back - bonus_back if details.get("pay_with") == "cash" else 0
    growth_back = share.back(int(details.get("growth_earned", 0)))
    # The refund that returns the whole purchase gives its coupons back.
    returns_coupons = bool(details.get("coupons")) and share.after == share.of
    coupon_codes = [c["code"] for c in details.get("coupons", ())] if returns_coupons else []
    locked = journal.lock_card_accounts([card.id], CARD_ASSETS)
    posting = journal.post(
        "refund",
        key,
        entries,
        request=request,
        store_id=store.id if store is not None else purchase.store_id,
        station=station,
        actor=actor,
        external_ref=external_ref,
        reverses_id=purchase.id,
        card_id=card.id,
        member_id=purchase.member_id,
        amount_fen=amount,
        details={
            "growth_back": growth_back,
            "points_taken_back": clawback,
            "points_returned": points_returned,
            "stored_value_back_fen": paid_back + bonus_back,
            "cash_back_fen": cash_back,
            **({"coupons_returned": coupon_codes} if coupon_codes else {}),
        },
        accounts=locked,
        key_checked=True,
    )
    if posting.replayed:
        return _refund_result(posting.transaction, replayed=True)
    if returns_coupons:
        redemption.return_checkout_coupons(purchase.id)
    if growth_back and card.member is not None:
        from app.ledger.rules.levels import reverse_growth

        reverse_growth(card.member, growth_back, transaction_id=posting.id)
    balances = _balances_after(card.id, locked, posting)
    _announce(
        posting,
        card=card,
        balances=balances,
        amount_fen=money_back,
        points_delta=_points_delta(posting, card.id),
        store=store,
    )
    return RefundResult(
        posting.id,
        balances,
        refunded_fen=amount,
        points_taken_back=clawback,
        points_returned=points_returned,
        coupons_returned=tuple(coupon_codes),
        stored_value_back_fen=paid_back + bonus_back,
        cash_back_fen=cash_back,
    )


def _refund_result(txn: Transaction, *, replayed: bool) -> RefundResult:
    """A refund as first answered, from its transaction (a replay of its key)."""
    details = txn.details or {}
    return RefundResult(
        txn.id,
        card_balances(txn.card_id) if txn.card_id else Balances(),
        refunded_fen=txn.amount_fen,
        points_taken_back=int(details.get("points_taken_back", 0)),
        points_returned=int(details.get("points_returned", 0)),
        replayed=replayed,
        coupons_returned=tuple(details.get("coupons_returned", ())),
        stored_value_back_fen=int(details.get("stored_value_back_fen", 0)),
        cash_back_fen=int(details.get("cash_back_fen", 0)),
    )


def _lock_purchase(transaction_id: int) -> Transaction:
    """The purchase, locked on PostgreSQL so two partial refunds of it run one after the other."""
    stmt = select(Transaction).where(Transaction.id == transaction_id)
    if journal.dialect() == "postgresql":
        stmt = stmt.with_for_update()
    txn = db.session.scalar(stmt)
    if txn is None:
        raise NotFound(f"no transaction {transaction_id}", field="transaction_id")
    if txn.kind == "refund":
        raise NotRefundable("a refund cannot be refunded", transaction_id=txn.id)
    return txn


def _current_card(card_id: int | None) -> Card:
    """The card now holding the purchase card's value (following replacements)."""
    card = db.session.get(Card, card_id) if card_id is not None else None
    if card is None:
        raise NotFound("the purchase has no card", field="transaction_id")
    for _ in range(100):  # a chain of replacements; bounded against a cycle
        if card.replaced_by_id is None:
            break
        successor = db.session.get(Card, card.replaced_by_id)
        assert successor is not None
        card = successor
    return card


def _purchase_parts(transaction_id: int) -> dict[str, int]:
    """What the purchase took from and gave to its card, read from its lines."""
    rows = db.session.execute(
        select(Line.asset, Line.amount).where(
            Line.transaction_id == transaction_id, Line.balance_after.is_not(None)
        )
    )
    parts = dict.fromkeys(
        ("stored_value_paid", "stored_value_bonus", "visits", "points_spent", "points_earned"), 0
    )
    for asset, amount in rows:
        amount = int(amount)
        if asset == "points":
            parts["points_earned" if amount > 0 else "points_spent"] += abs(amount)
        elif asset in parts:
            parts[asset] -= amount
    return parts


@dataclass(frozen=True)
class _Share:
    """A refund as a slice of its purchase: from ``before``/``of`` to ``after``/``of`` refunded."""

    before: int
    after: int
    of: int

    def returned_before(self, total: int) -> int:
        return total * self.before // self.of

    def back(self, total: int) -> int:
        """This refund's part of ``total``: cumulative floor after less cumulative floor before."""
        return total * self.after // self.of - self.returned_before(total)


def _restored_lots(
    transaction_id: int, share: _Share, spent: int
) -> list[tuple[int, dt.date | None, dt.datetime, int]]:
    """Points spent by the purchase coming back now: per lot used, latest-expiring first.

    The cumulative amount returned is a prefix of this fixed order, so each
    refund returns the next slice and the last returns the rest.
    """
    if not spent:
        return []
    uses = journal.lot_uses_of(transaction_id)
    lots = {
        lot.id: lot
        for lot in db.session.scalars(
            select(PointsLot).where(PointsLot.id.in_([lot_id for lot_id, _ in uses]))
        )
    }
    order = sorted(
        ((lot_id, amount) for lot_id, amount in uses if amount > 0),
        key=lambda u: (
            lots[u[0]].expires_on is None,
            lots[u[0]].expires_on or dt.date.max,
            lots[u[0]].earned_at,
        ),
        reverse=True,
    )
    start = share.returned_before(spent)
    end = start + share.back(spent)
    out = []
    position = 0
    for lot_id, amount in order:
        take = max(0, min(position + amount, end) - max(position, start))
        if take:
            lot = lots[lot_id]
            out.append((lot_id, lot.expires_on, lot.earned_at, take))
        position += amount
    return out


def _earned_lot(transaction_id: int) -> list[int]:
    """The lot the purchase credited, or what it became on a replacement card."""
    lot_id = db.session.scalar(
        select(PointsLot.id)
        .join(Line, Line.id == PointsLot.line_id)
        .where(Line.transaction_id == transaction_id)
    )
    chain = []
    seen = 0
    while lot_id is not None and seen < 100:
        chain.append(lot_id)
        lot_id = db.session.scalar(select(PointsLot.id).where(PointsLot.moved_from_id == lot_id))
        seen += 1
    return list(reversed(chain))


# --- card replacement ---------------------------------------------------------------------


def transfer_on_replace(old: Card, new: Card, *, actor: str | None = None) -> Posting | None:
    """Move every balance and open lot of ``old`` to ``new`` in one transaction."""
    locked = journal.lock_card_accounts([old.id, new.id], CARD_ASSETS)
    entries: list[Entry] = []
    for asset in ("stored_value_paid", "stored_value_bonus", "visits"):
        balance = int(locked[(old.id, asset)].balance)
        if balance:
            # An overdrawn balance moves too: the debt goes with the card.
            entries += [
                Entry(asset, -balance, card_id=old.id),
                Entry(
                    asset,
                    balance,
                    card_id=new.id,
                    overdraft=max(credit_limit(new), -balance),
                ),
            ]
    account_id = locked[(old.id, "points")].id
    lots = db.session.scalars(
        select(PointsLot)
        .where(PointsLot.account_id == account_id, PointsLot.remaining > 0)
        .order_by(PointsLot.id)
    ).all()
    for lot in lots:
        entries += [
            Entry("points", -lot.remaining, card_id=old.id, lots=[(lot.id, lot.remaining)]),
            Entry(
                "points",
                lot.remaining,
                card_id=new.id,
                expires_on=lot.expires_on,
                earned_at=lot.earned_at,
                moved_from_lot_id=lot.id,
            ),
        ]
    if not entries:
        return None
    posting = journal.post(
        "transfer",
        f"replace:{old.id}",
        entries,
        request={"op": "transfer", "from": old.id, "to": new.id},
        reason="card_replaced",
        actor=actor,
        card_id=new.id,
        member_id=new.member_id,
        details={"from_card": old.number, "to_card": new.number},
        accounts=locked,
    )
    if not posting.replayed:
        _announce(
            posting,
            card=new,
            balances=_balances_after(new.id, locked, posting),
            amount_fen=0,
            points_delta=0,
            store=None,
        )
    return posting


def _on_card_state_changed(card: Card, **kw: Any) -> None:
    if kw.get("action") == "replace" and kw.get("new_card") is not None:
        transfer_on_replace(card, kw["new_card"])


def _on_card_issued_with_value(card: Card, **kw: Any) -> None:
    load_value(
        card,
        kw["value_fen"],
        visits=kw["visits"],
        idempotency_key=kw["idempotency_key"],
        actor=kw["actor"],
    )


def connect_signals() -> None:
    """Subscribe the ledger to card replacements and preloaded cards (``app.ledger.init_app``;
    blinker keeps one subscription per receiver however often it is called)."""
    from app.signals import card_issued_with_value, card_state_changed

    card_state_changed.connect(_on_card_state_changed, weak=False)
    card_issued_with_value.connect(_on_card_issued_with_value, weak=False)
