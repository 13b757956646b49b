"""Promotions: made, changed and ended by marketers, applied by the ledger at checkout.

A promotion has a name per language, a window (``starts_at`` ≤ now < ``ends_at``, unless
ended early), conditions (a level, a store, a minimum of money charged, a product category
among the items bought; each left empty means any) and at least one effect (an extra
points multiplier, bonus points, a coupon type to give). The ledger asks for the
promotions in force through its seam (``app.ledger.promotions``); this module's
``PromotionOffers`` answers, and records each use (``PromotionUse``) in the checkout's
transaction, which the report counts. Services flush; the caller commits.

The checkout reads the promotions not yet over from a copy each process keeps
``CACHE_SECONDS``, as the texts' overrides are kept: a statement per checkout, in most
shops for no promotion at all, cost a third of a checkout's time (docs/benchmarks.md).
The window, the conditions and the segment are checked at each checkout against that
copy. Making, changing or ending a promotion drops this process's copy at once; other
processes see it within ``CACHE_SECONDS``.

A segment condition would be one more nullable column and one more check in
``PromotionOffers.offers`` calling the segments' membership service: the seam does not
change.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Any

from flask import current_app
from sqlalchemy import distinct, func, or_, select

from app import clock
from app.audit.services import record
from app.campaigns.models import Segment
from app.campaigns.promotion_models import (
    MAX_BONUS_POINTS,
    MAX_MULTIPLIER_BP,
    MIN_MULTIPLIER_BP,
    PROMOTION_NAME_COLUMNS,
    Promotion,
    PromotionUse,
)
from app.campaigns.segments import segment_contains
from app.db import db, utcnow
from app.errors import InvalidRequest, LaoyouError, NotFound
from app.i18n import gettext
from app.kept import drop, kept
from app.ledger.promotions import CheckoutFacts, Offer
from app.members.models import Level, Member
from app.stores.models import Store

MAX_NAME_CHARS = 120
MAX_CATEGORY_CHARS = 64
#: The longest window a promotion may have (a typo in the year would otherwise run forever).
MAX_WINDOW = dt.timedelta(days=3 * 366)
#: Seconds a process keeps the promotions it read for checkouts.
CACHE_SECONDS = 5.0
_CACHE = "laoyou.promotions_in_force"
#: The most promotions the member's keyword lists (an SMS must stay short).
MAX_LISTED = 5
#: Fields an update may change, as the audit shows them.
AUDITED = (
    "name_zh_hans",
    "name_zh_hant",
    "name_en",
    "starts_at",
    "ends_at",
    "level_id",
    "segment_id",
    "store_id",
    "min_spend_fen",
    "category",
    "multiplier_bp",
    "bonus_points",
    "coupon_type",
)


class PromotionEnded(LaoyouError):
    """An ended promotion is a record: it is not changed or ended again."""

    code = "promotion_ended"
    status = 409


@dataclass(frozen=True)
class PromotionTerms:
    """What a marketer sets; checked by :func:`check_terms`."""

    names: Mapping[str, str]
    starts_at: dt.datetime
    ends_at: dt.datetime
    level_id: int | None = None
    segment_id: int | None = None
    store_code: str | None = None
    min_spend_fen: int = 0
    category: str | None = None
    multiplier_bp: int = MIN_MULTIPLIER_BP
    bonus_points: int = 0
    coupon_type: str | None = None


@dataclass(frozen=True)
class PromotionFigures:
    """The report of one promotion."""

    members_reached: int = 0
    times_applied: int = 0
    points_given: int = 0
    coupons_given: int = 0


def _whole(value: Any, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidRequest(
            f"{field} must be a whole number from {low} to {high}",
            field=field,
            reason="out_of_range",
            low=low,
            high=high,
        )
    return value


def check_terms(terms: PromotionTerms) -> dict[str, Any]:
    """The promotion's columns from ``terms``, or ``InvalidRequest`` naming the field."""
    from app.ledger.redemption.services import gift_coupon_type
    from app.ledger.rules.io import category_codes

    values: dict[str, Any] = {}
    for language, column in PROMOTION_NAME_COLUMNS.items():
        name = (terms.names.get(language) or "").strip()
        if len(name) > MAX_NAME_CHARS or any(ord(c) < 32 for c in name):
            raise InvalidRequest(
                f"a name is one line of at most {MAX_NAME_CHARS} characters",
                field=column,
                reason="name_too_long",
            )
        values[column] = name or None
    if not any(values[c] for c in PROMOTION_NAME_COLUMNS.values()):
        raise InvalidRequest(
            "a promotion needs a name in at least one language", field="name", reason="no_name"
        )
    starts_at, ends_at = terms.starts_at, terms.ends_at
    for field, moment in (("starts_at", starts_at), ("ends_at", ends_at)):
        if not isinstance(moment, dt.datetime) or moment.tzinfo is None:
            raise InvalidRequest(f"{field} must be a date and time", field=field, reason="moment")
        if not 2000 <= moment.year <= 2100:
            raise InvalidRequest(
                f"{field} must be between 2000 and 2100", field=field, reason="moment"
            )
    if ends_at <= starts_at:
        raise InvalidRequest(
            "the end must be after the start", field="ends_at", reason="window_order"
        )
    if ends_at - starts_at > MAX_WINDOW:
        raise InvalidRequest(
            "a promotion runs at most three years", field="ends_at", reason="window_length"
        )
    values["starts_at"], values["ends_at"] = starts_at, ends_at
    values["level_id"] = None
    if terms.level_id is not None:
        if db.session.get(Level, _whole(terms.level_id, "level", 1, 2**31 - 1)) is None:
            raise InvalidRequest("no such level", field="level", reason="unknown")
        values["level_id"] = terms.level_id
    values["segment_id"] = None
    if terms.segment_id is not None:
        if db.session.get(Segment, _whole(terms.segment_id, "segment", 1, 2**31 - 1)) is None:
            raise InvalidRequest("no such segment", field="segment", reason="unknown")
        values["segment_id"] = terms.segment_id
    values["store_id"] = None
    if terms.store_code:
        code = terms.store_code.strip().upper()
        store = db.session.scalar(select(Store).where(Store.code == code)) if code else None
        if store is None:
            raise InvalidRequest("no such store", field="store", reason="unknown")
        values["store_id"] = store.id
    values["min_spend_fen"] = _whole(
        terms.min_spend_fen, "min_spend_fen", 0, current_app.config["MAX_TRANSACTION_FEN"]
    )
    category = (terms.category or "").strip()
    if len(category) > MAX_CATEGORY_CHARS or any(ord(c) < 32 for c in category):
        raise InvalidRequest(
            f"a category is at most {MAX_CATEGORY_CHARS} characters",
            field="category",
            reason="category_too_long",
        )
    listed = category_codes() if category else []
    if listed and category not in listed:
        # With a category list kept, a typo would make a promotion that never applies.
        raise InvalidRequest("no such category", field="category", reason="unknown")
    values["category"] = category or None
    values["multiplier_bp"] = _whole(
        terms.multiplier_bp, "multiplier_bp", MIN_MULTIPLIER_BP, MAX_MULTIPLIER_BP
    )
    values["bonus_points"] = _whole(terms.bonus_points, "bonus_points", 0, MAX_BONUS_POINTS)
    coupon = (terms.coupon_type or "").strip()
    if coupon and gift_coupon_type(coupon) is None:
        raise InvalidRequest("no such coupon type", field="coupon_type", reason="unknown")
    values["coupon_type"] = coupon or None
    if values["multiplier_bp"] == MIN_MULTIPLIER_BP and not values["bonus_points"] and not coupon:
        raise InvalidRequest(
            "a promotion needs an effect: a multiplier above 1, bonus points or a coupon",
            field="effect",
            reason="no_effect",
        )
    return values


def create_promotion(terms: PromotionTerms) -> Promotion:
    values = check_terms(terms)
    promotion = Promotion(**values)
    db.session.add(promotion)
    db.session.flush()
    _invalidate()
    record("promotion.create", "promotion", promotion.id, after=_snapshot(promotion))
    return promotion


def update_promotion(promotion: Promotion, terms: PromotionTerms) -> Promotion:
    """Change a promotion not yet ended; audited with the fields that changed."""
    if is_ended(promotion):
        raise PromotionEnded("this promotion has ended", promotion=promotion.id)
    values = check_terms(terms)
    before = _snapshot(promotion)
    for key, value in values.items():
        setattr(promotion, key, value)
    db.session.flush()
    _invalidate()
    after = _snapshot(promotion)
    changed = [k for k in AUDITED if before[k] != after[k]]
    if changed:
        record(
            "promotion.update",
            "promotion",
            promotion.id,
            before={k: before[k] for k in changed},
            after={k: after[k] for k in changed},
        )
    return promotion


def end_promotion(promotion: Promotion) -> Promotion:
    """End a promotion now (an early end): checkouts from now on no longer get it."""
    if is_ended(promotion):
        raise PromotionEnded("this promotion has already ended", promotion=promotion.id)
    promotion.ended_at = utcnow()
    db.session.flush()
    _invalidate()
    record(
        "promotion.end",
        "promotion",
        promotion.id,
        before={"ended_at": None},
        after={"ended_at": promotion.ended_at},
    )
    return promotion


def get_promotion(promotion_id: int) -> Promotion:
    promotion = db.session.get(Promotion, promotion_id)
    if promotion is None:
        raise NotFound(f"no promotion {promotion_id}", field="promotion")
    return promotion


def list_promotions() -> list[Promotion]:
    """Every promotion, the latest start first."""
    return list(
        db.session.scalars(select(Promotion).order_by(Promotion.starts_at.desc(), Promotion.id))
    )


def is_ended(promotion: Promotion, at: dt.datetime | None = None) -> bool:
    at = at or clock.now()
    return promotion.ended_at is not None or promotion.ends_at <= at


def status(promotion: Promotion, at: dt.datetime | None = None) -> str:
    """``scheduled``, ``in_force`` or ``ended``."""
    at = at or clock.now()
    if is_ended(promotion, at):
        return "ended"
    return "scheduled" if at < promotion.starts_at else "in_force"


def _in_force(at: dt.datetime) -> Any:
    return (
        Promotion.ended_at.is_(None),
        Promotion.starts_at <= at,
        Promotion.ends_at > at,
    )


def current_promotions(member: Member | None, at: dt.datetime | None = None) -> list[Promotion]:
    """Promotions in force that the member's level allows, the soonest to end first; what
    members are told by the keyword 活动 / 活動 / PROMO."""
    at = at or clock.now()
    query = select(Promotion).where(*_in_force(at))
    if member is not None:
        query = query.where(
            or_(Promotion.level_id.is_(None), Promotion.level_id == member.level_id)
        )
    query = query.order_by(Promotion.ends_at, Promotion.id)
    found = (p for p in db.session.scalars(query) if _in_segment(p, member))
    return list(islice(found, MAX_LISTED))


def _in_segment(promotion: Promotion, member: Member | None) -> bool:
    """A promotion for a segment holds for its members only (checked as they are now)."""
    if promotion.segment_id is None:
        return True
    return member is not None and segment_contains(str(promotion.segment_id), member.id)


def figures(promotion_ids: Sequence[int]) -> dict[int, PromotionFigures]:
    """Members reached (distinct), times applied, points and coupons given, per promotion."""
    if not promotion_ids:
        return {}
    rows = db.session.execute(
        select(
            PromotionUse.promotion_id,
            func.count(distinct(PromotionUse.member_id)),
            func.count(),
            func.coalesce(func.sum(PromotionUse.points), 0),
            func.count(PromotionUse.coupon_code),
        )
        .where(PromotionUse.promotion_id.in_(list(promotion_ids)))
        .group_by(PromotionUse.promotion_id)
    )
    return {
        pid: PromotionFigures(int(members), int(times), int(points), int(coupons))
        for pid, members, times, points, coupons in rows
    }


def times_text(multiplier_bp: int) -> str:
    """15000 → ``1.5``, 20000 → ``2``: a multiplier as people write it, without a float."""
    whole, rest = divmod(multiplier_bp, 10000)
    return str(whole) if not rest else f"{whole}.{rest:04d}".rstrip("0")


def effect_parts(promotion: Promotion) -> list[str]:
    """What the promotion gives, one phrase per effect, in the current language."""
    from app.ledger.redemption.services import gift_coupon_type

    parts = []
    if promotion.multiplier_bp > MIN_MULTIPLIER_BP:
        parts.append(gettext("%(times)s× points", times=times_text(promotion.multiplier_bp)))
    if promotion.bonus_points:
        parts.append(gettext("%(points)s bonus points", points=f"{promotion.bonus_points:,}"))
    if promotion.coupon_type:
        kind = gift_coupon_type(promotion.coupon_type)
        if kind is not None:
            parts.append(gettext("a coupon: %(coupon)s", coupon=kind.name))
    return parts


def _snapshot(promotion: Promotion) -> dict[str, Any]:
    return {k: getattr(promotion, k) for k in AUDITED}


class PromotionOffers:
    """The ledger's provider (``app.ledger.promotions``), registered by campaigns' init_app."""

    def offers(self, facts: CheckoutFacts) -> list[Offer]:
        """The promotions in force whose conditions the checkout meets, by id."""
        return [
            Offer(
                promotion_id=p.id,
                names=p.names,
                multiplier_bp=p.multiplier_bp,
                bonus_points=p.bonus_points,
                coupon_type=p.coupon_type,
            )
            for p in _not_over()
            if p.holds_for(facts)
            and (p.segment_id is None or segment_contains(str(p.segment_id), facts.member_id))
        ]

    def applied(
        self,
        offer: Offer,
        *,
        transaction_id: int,
        member_id: int,
        points: int,
        coupon_code: str | None,
    ) -> None:
        db.session.add(
            PromotionUse(
                promotion_id=offer.promotion_id,
                transaction_id=transaction_id,
                member_id=member_id,
                points=points,
                coupon_code=coupon_code,
            )
        )
        db.session.flush()


@dataclass(frozen=True)
class _Terms:
    """A promotion as the checkout reads it from the process's copy."""

    id: int
    names: Mapping[str, str]
    starts_at: dt.datetime
    ends_at: dt.datetime
    level_id: int | None
    store_id: int | None
    min_spend_fen: int
    category: str | None
    segment_id: int | None
    multiplier_bp: int
    bonus_points: int
    coupon_type: str | None

    def holds_for(self, facts: CheckoutFacts) -> bool:
        """In force at the checkout's moment and its conditions met (the segment aside)."""
        return (
            self.starts_at <= facts.at < self.ends_at
            and self.level_id in (None, facts.level_id)
            and self.store_id in (None, facts.store_id)
            and self.min_spend_fen <= facts.charged_fen
            and (self.category is None or self.category in facts.categories)
        )


def _not_over() -> tuple[_Terms, ...]:
    """The promotions not ended early and not past their end, read at most once per
    ``CACHE_SECONDS`` (see the module docstring)."""
    return kept(_CACHE, CACHE_SECONDS, _read_not_over)


def _read_not_over() -> tuple[_Terms, ...]:
    query = (
        select(Promotion)
        .where(Promotion.ended_at.is_(None), Promotion.ends_at > clock.now())
        .order_by(Promotion.id)
    )
    return tuple(
        _Terms(
            id=p.id,
            names=p.names(),
            starts_at=p.starts_at,
            ends_at=p.ends_at,
            level_id=p.level_id,
            store_id=p.store_id,
            min_spend_fen=p.min_spend_fen,
            category=p.category,
            segment_id=p.segment_id,
            multiplier_bp=p.multiplier_bp,
            bonus_points=p.bonus_points,
            coupon_type=p.coupon_type,
        )
        for p in db.session.scalars(query)
    )


def _invalidate() -> None:
    drop(_CACHE)
