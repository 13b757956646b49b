"""What the rules say a checkout, a recharge or an earning is worth. Computes; never writes.

The written rules (also in docs/architecture.md, "Ledger rules"):

- Money: one rounding rule everywhere. A computed amount of money (a discount,
  a percentage bonus) is rounded half-up to the fen, which is the customer's
  favour. The discount is computed once per checkout on the sum of the
  eligible lines, so a basket of 1-fen items cannot lose its discount line by
  line.
- Points: computed exactly (fractions, never floats) and rounded down to a
  whole point once per checkout. Points are earned on the money actually
  charged (after discounts and after the points offset); the charged amount is
  spread over the lines in proportion to their discounted prices, so a line in
  an excluded category earns nothing and a category multiplier applies to its
  own share only.
- Multipliers (level, store, category, special periods, birthday month)
  combine by ``multiplier_combination``: ``multiply`` (the default: 1.5x
  member day for a 1.2x level = 1.8x) or ``max`` (the single best applies).
- Discounts: level discount and card-type discount stack by
  ``discount_stacking``: ``best`` (the default: the better of the two) or
  ``multiply`` (95% x 98% = 93.1%). Lines in excluded categories pay full price.
- Points as cash: ``offset_points_per_yuan`` points pay one yuan; the offset
  must be a whole number of yuan, no more than what is left to pay after the
  discount, and no more than ``max_offset_bp`` of it. Anonymous cards hold no
  points.
- Recharge bonus: of the plans that apply (date range, minimum amount, level,
  card type), the single one giving the largest bonus wins; on a tie the plan
  imported first.
- Growth: from spend (growth per yuan charged) or from points earned, rounded
  down; anonymous cards earn none.
- Local dates (member days, birthdays, expiry) are taken in the programme's
  time zone (``app.clock``).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Protocol

from flask import current_app
from sqlalchemy import select

from app import clock
from app.db import db
from app.errors import InvalidRequest
from app.ledger.rules.models import (
    CardDiscount,
    EarningRule,
    OverdraftLimit,
    ProgramRules,
    RechargePlan,
)
from app.members.birthdays import is_birthday_month

if TYPE_CHECKING:
    from app.cards.models import Card
    from app.members.models import Member
    from app.stores.models import Store

BP = 10000


def round_half_up(value: Fraction | int) -> int:
    """The one money rounding rule: half a fen or more rounds up (customer's favour)."""
    value = Fraction(value)
    return (
        math.floor(value + Fraction(1, 2)) if value >= 0 else -math.floor(-value + Fraction(1, 2))
    )


# --- the rules as an immutable snapshot ----------------------------------------------


@dataclass(frozen=True)
class Period:
    name: str
    multiplier_bp: int
    weekdays: frozenset[int] = frozenset()
    month_days: frozenset[int] = frozenset()
    starts_on: dt.date | None = None
    ends_on: dt.date | None = None

    def applies(self, day: dt.date) -> bool:
        if self.starts_on and day < self.starts_on:
            return False
        if self.ends_on and day > self.ends_on:
            return False
        if self.weekdays and day.isoweekday() not in self.weekdays:
            return False
        return not (self.month_days and day.day not in self.month_days)


@dataclass(frozen=True)
class Plan:
    name: str
    min_amount_fen: int
    bonus_fen: int = 0
    bonus_bp: int = 0
    repeat: bool = False
    levels: frozenset[str] = frozenset()
    card_types: frozenset[str] = frozenset()
    starts_on: dt.date | None = None
    ends_on: dt.date | None = None

    def bonus(self, *, amount_fen: int, level: str | None, card_type: str, day: dt.date) -> int:
        """The bonus this plan gives, or 0 when it does not apply."""
        if amount_fen < self.min_amount_fen:
            return 0
        if (self.starts_on and day < self.starts_on) or (self.ends_on and day > self.ends_on):
            return 0
        if self.levels and level not in self.levels:
            return 0
        if self.card_types and card_type not in self.card_types:
            return 0
        times = amount_fen // self.min_amount_fen if self.repeat else 1
        return self.bonus_fen * times + round_half_up(Fraction(amount_fen * self.bonus_bp, BP))


@dataclass(frozen=True)
class RuleSet:
    """Every rule quote_checkout and friends need, read once per rules revision."""

    revision: str | None = None
    points_per_yuan_bp: int = BP
    multiplier_combination: str = "multiply"
    birthday_multiplier_bp: int = BP
    points_excluded_categories: frozenset[str] = frozenset()
    signup_points: int = 0
    birthday_points: int = 0
    referral_points: int = 0
    discount_stacking: str = "best"
    discount_excluded_categories: frozenset[str] = frozenset()
    offset_points_per_yuan: int = 100
    max_offset_bp: int = BP
    expiry_mode: str = "never"
    expiry_months: int | None = None
    growth_source: str = "spend"
    growth_rate_bp: int = BP
    downgrade_enabled: bool = False
    review_months: int = 12
    store_multipliers: dict[str, tuple[str, int]] = field(default_factory=dict)
    category_multipliers: dict[str, tuple[str, int]] = field(default_factory=dict)
    periods: tuple[Period, ...] = ()
    card_discounts: dict[str, int] = field(default_factory=dict)
    recharge_plans: tuple[Plan, ...] = ()
    #: Card type -> overdraft in fen, for cards without a limit of their own.
    overdraft_limits: dict[str, int] = field(default_factory=dict)


PROGRAM_FIELDS = (
    "points_per_yuan_bp",
    "multiplier_combination",
    "birthday_multiplier_bp",
    "signup_points",
    "birthday_points",
    "referral_points",
    "discount_stacking",
    "offset_points_per_yuan",
    "max_offset_bp",
    "expiry_mode",
    "expiry_months",
    "growth_source",
    "growth_rate_bp",
    "downgrade_enabled",
    "review_months",
)


_program = ProgramRules.__table__
#: Built once: this read is on every checkout's path.
_REVISION = select(_program.c.revision).where(_program.c.id == 1)
#: The same read as a column of another statement (a checkout reads it with its key check).
REVISION = _REVISION.scalar_subquery()


def current_rules() -> RuleSet:
    """The rules in force. One indexed read per call: the snapshot is cached by revision."""
    return rules_at(db.connection().execute(_REVISION).scalar())


def rules_at(revision: str | None) -> RuleSet:
    """The snapshot of ``revision``, read in this transaction (see ``REVISION``).

    Cached per app and process by revision: every import writes a new revision,
    so the first read after an import loads the new rules, and no checkout ever
    quotes with rules other than those its own transaction saw.
    """
    cache: dict[str | None, RuleSet] = current_app.extensions.setdefault("laoyou.rules", {})
    rules = cache.get(revision)
    if rules is None:
        rules = _load(revision)
        cache.clear()  # one revision at a time; a rolled-back import must not linger
        cache[revision] = rules
    return rules


def _load(revision: str | None) -> RuleSet:
    program = db.session.get(ProgramRules, 1) if revision is not None else None
    values: dict[str, Any] = {}
    if program is not None:
        values = {name: getattr(program, name) for name in PROGRAM_FIELDS}
        values["points_excluded_categories"] = frozenset(program.points_excluded_categories)
        values["discount_excluded_categories"] = frozenset(program.discount_excluded_categories)
    stores: dict[str, tuple[str, int]] = {}
    categories: dict[str, tuple[str, int]] = {}
    periods: list[Period] = []
    for rule in db.session.scalars(select(EarningRule).order_by(EarningRule.id)):
        if rule.kind == "store" and rule.store_code:
            stores[rule.store_code] = (rule.name, rule.multiplier_bp)
        elif rule.kind == "category" and rule.category:
            categories[rule.category] = (rule.name, rule.multiplier_bp)
        elif rule.kind == "period":
            periods.append(
                Period(
                    name=rule.name,
                    multiplier_bp=rule.multiplier_bp,
                    weekdays=frozenset(rule.weekdays or ()),
                    month_days=frozenset(rule.month_days or ()),
                    starts_on=rule.starts_on,
                    ends_on=rule.ends_on,
                )
            )
    discounts = {d.card_type: d.discount_bp for d in db.session.scalars(select(CardDiscount))}
    plans = tuple(
        Plan(
            name=p.name,
            min_amount_fen=p.min_amount_fen,
            bonus_fen=p.bonus_fen,
            bonus_bp=p.bonus_bp,
            repeat=p.repeat,
            levels=frozenset(p.levels or ()),
            card_types=frozenset(p.card_types or ()),
            starts_on=p.starts_on,
            ends_on=p.ends_on,
        )
        for p in db.session.scalars(select(RechargePlan).order_by(RechargePlan.id))
    )
    overdraft = {
        o.card_type: o.credit_limit_fen for o in db.session.scalars(select(OverdraftLimit))
    }
    return RuleSet(
        revision=revision,
        store_multipliers=stores,
        category_multipliers=categories,
        periods=tuple(periods),
        card_discounts=discounts,
        recharge_plans=plans,
        overdraft_limits=overdraft,
        **values,
    )


def credit_limit(card: Card, rules: RuleSet | None = None) -> int:
    """How far below zero the card's paid stored value may go, in fen.

    The card's own ``credit_limit_fen`` when one was set for it, else the rule for its
    type in ``rules`` (default: the rules in force), so a changed rule applies at the
    next checkout. Only stored value cards ever have more than 0.
    """
    if card.credit_limit_fen is not None:
        return card.credit_limit_fen
    if card.type != "stored_value":
        return 0
    return (rules or current_rules()).overdraft_limits.get(card.type, 0)


# --- checkout ----------------------------------------------------------------------


@dataclass(frozen=True)
class CheckoutQuote:
    discount_fen: int
    charged_fen: int
    points_offset_fen: int
    points_earned: int
    growth_earned: int
    applied: tuple[str, ...]
    #: Each coupon's discount in fen, in the order of ``quote_checkout``'s ``coupons``.
    coupon_discounts: tuple[int, ...] = ()


@dataclass(frozen=True)
class _Line:
    category: str | None
    amount_fen: int


def quote_checkout(
    *,
    card: Card,
    member: Member | None,
    store: Store | None,
    amount_fen: int,
    items: Sequence[dict[str, Any]] | None,
    points_offset: int | None,
    at: dt.datetime,
    rules: RuleSet | None = None,
    coupons: Sequence[CouponTerms] = (),
    list_price: bool = False,
) -> CheckoutQuote:
    """Discount, charge, points offset, points and growth of one purchase.

    ``list_price``: the till already charged the list price (a sale rung up offline), so
    no level or card discount applies; points are earned on what was paid.

    ``items`` lines carry ``amount_fen`` as the line total (quantity already
    applied); the lines must add up to ``amount_fen``. Raises InvalidRequest
    (naming the field) for a bad amount, bad items or a bad points offset.
    ``rules``: the snapshot the caller already read (default: the rules in force).
    """
    rules = rules or current_rules()
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int) or amount_fen < 0:
        raise InvalidRequest(
            "amount_fen must be a whole number of fen, 0 or more", field="amount_fen"
        )
    lines = _lines(items, amount_fen)
    day = clock.to_local(at).date()
    level = member.level if member is not None else None
    applied: list[str] = []

    # Discount: one rate for every eligible line, rounded once.
    if list_price:
        rate = (1, 1)
        applied.append("list_price")
    else:
        level_bp = level.discount_bp if level is not None else BP
        card_bp = rules.card_discounts.get(card.type, BP)
        rate = _stack(rules.discount_stacking, level_bp, card_bp, applied, level, card.type)
    eligible_fen = sum(
        line.amount_fen for line in lines if line.category not in rules.discount_excluded_categories
    )
    rate_num, rate_den = rate
    # Half-up in integers: floor((2x + den) / 2den) for x = eligible x (1 - rate) x den.
    discount_fen = (2 * eligible_fen * (rate_den - rate_num) + rate_den) // (2 * rate_den)
    payable_fen = amount_fen - discount_fen
    coupon_discounts = coupon_effects(coupons, payable_fen)
    payable_fen -= sum(coupon_discounts)
    if coupons:
        applied.append("coupons")

    offset_fen = _offset_fen(rules, points_offset, member, payable_fen)
    if offset_fen:
        applied.append("points_offset")
    charged_fen = payable_fen - offset_fen

    points = 0
    if member is not None and charged_fen > 0:
        points = _points(rules, lines, rate, charged_fen, level, store, member, day, applied)
    growth = 0
    if member is not None:
        if rules.growth_source == "points":
            growth = points * rules.growth_rate_bp // BP
        else:
            growth = charged_fen * rules.growth_rate_bp // (100 * BP)
    return CheckoutQuote(
        discount_fen=discount_fen,
        charged_fen=charged_fen,
        points_offset_fen=offset_fen,
        points_earned=points,
        growth_earned=growth,
        applied=tuple(applied),
        coupon_discounts=coupon_discounts,
    )


class CouponTerms(Protocol):
    """What a coupon's effect on a bill depends on (``redemption.coupon_terms``)."""

    @property
    def code(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def value_fen(self) -> int: ...
    @property
    def discount_bp(self) -> int: ...
    @property
    def min_spend_fen(self) -> int: ...


def coupon_effects(coupons: Sequence[CouponTerms], payable_fen: int) -> tuple[int, ...]:
    """Each coupon's discount on a bill of ``payable_fen`` (after the level and card discount).

    Every coupon's ``min_spend_fen`` is compared with that bill, before any coupon. Percentage
    coupons apply first, each to what is left (rounded half-up, like the level discount), then
    vouchers, each taking its value off what is left; a voucher worth more than what is left
    takes only what is left and the rest of its value is lost. Raises ``CouponMinSpend``.
    """
    from app.ledger.redemption.services import CouponMinSpend

    for coupon in coupons:
        if payable_fen < coupon.min_spend_fen:
            raise CouponMinSpend(
                f"coupon {coupon.code} needs a bill of at least {coupon.min_spend_fen} fen",
                coupon=coupon.code,
                min_spend_fen=coupon.min_spend_fen,
                bill_fen=payable_fen,
            )
    effects = dict.fromkeys(range(len(coupons)), 0)
    left = payable_fen
    order = sorted(range(len(coupons)), key=lambda n: coupons[n].kind != "coupon")
    for n in order:
        coupon = coupons[n]
        if coupon.kind == "coupon":
            off = (2 * left * (BP - coupon.discount_bp) + BP) // (2 * BP)
        else:
            off = min(coupon.value_fen, left)
        effects[n] = off
        left -= off
    return tuple(effects[n] for n in range(len(coupons)))


def _lines(items: Sequence[dict[str, Any]] | None, amount_fen: int) -> list[_Line]:
    if items is None:
        return [_Line(None, amount_fen)]
    if not isinstance(items, list | tuple):
        raise InvalidRequest("items must be a list", field="items")
    lines = []
    for n, item in enumerate(items):
        where = f"items[{n}]"
        if not isinstance(item, dict):
            raise InvalidRequest(f"{where} must be an object", field=where)
        amount = item.get("amount_fen")
        if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
            raise InvalidRequest(
                f"{where}.amount_fen must be a whole number of fen, 0 or more", field=where
            )
        quantity = item.get("quantity", 1)
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
            raise InvalidRequest(f"{where}.quantity must be 1 or more", field=where)
        category = item.get("category")
        if category is not None and not isinstance(category, str):
            raise InvalidRequest(f"{where}.category must be text", field=where)
        lines.append(_Line(category or None, amount))
    if sum(line.amount_fen for line in lines) != amount_fen:
        raise InvalidRequest("the items' amount_fen must add up to amount_fen", field="items")
    return lines or [_Line(None, amount_fen)]


def _stack(
    stacking: str,
    level_bp: int,
    card_bp: int,
    applied: list[str],
    level: Any,
    card_type: str,
) -> tuple[int, int]:
    """The share of the list price paid, as an exact (numerator, denominator)."""
    if stacking == "multiply":
        if level_bp < BP:
            applied.append(f"level_discount:{level.name}")
        if card_bp < BP:
            applied.append(f"card_discount:{card_type}")
        return level_bp * card_bp, BP * BP
    if level_bp <= card_bp:
        if level_bp < BP:
            applied.append(f"level_discount:{level.name}")
        return level_bp, BP
    applied.append(f"card_discount:{card_type}")
    return card_bp, BP


def _offset_fen(
    rules: RuleSet, points_offset: int | None, member: Member | None, payable_fen: int
) -> int:
    if points_offset is None or points_offset == 0:
        return 0
    if isinstance(points_offset, bool) or not isinstance(points_offset, int) or points_offset < 0:
        raise InvalidRequest(
            "points_offset must be a whole number of points", field="points_offset"
        )
    if member is None:
        raise InvalidRequest("an anonymous card holds no points", field="points_offset")
    per_yuan = rules.offset_points_per_yuan
    if points_offset % per_yuan:
        raise InvalidRequest(
            f"points_offset must be a multiple of {per_yuan} ({per_yuan} points = 1 yuan)",
            field="points_offset",
        )
    offset_fen = points_offset // per_yuan * 100
    if offset_fen > payable_fen:
        raise InvalidRequest(
            "points_offset is worth more than the amount to pay", field="points_offset"
        )
    if offset_fen * BP > payable_fen * rules.max_offset_bp:
        share = f"{Fraction(rules.max_offset_bp, 100)}%"
        raise InvalidRequest(f"points may pay at most {share} of the bill", field="points_offset")
    return offset_fen


def common_multipliers(
    rules: RuleSet, *, level: Any, store: Store | None, member: Member | None, day: dt.date
) -> list[tuple[str, int]]:
    """The multipliers that apply to a whole purchase, named for the receipt."""
    found: list[tuple[str, int]] = []
    if level is not None and level.points_multiplier_bp != BP:
        found.append((f"level_multiplier:{level.name}", level.points_multiplier_bp))
    if store is not None and store.code in rules.store_multipliers:
        name, bp = rules.store_multipliers[store.code]
        found.append((f"store:{name}", bp))
    found.extend((f"period:{p.name}", p.multiplier_bp) for p in rules.periods if p.applies(day))
    if member is not None and rules.birthday_multiplier_bp != BP and is_birthday_month(member, day):
        found.append(("birthday_month", rules.birthday_multiplier_bp))
    return found


def _points(
    rules: RuleSet,
    lines: list[_Line],
    rate: tuple[int, int],
    charged_fen: int,
    level: Any,
    store: Store | None,
    member: Member,
    day: dt.date,
    applied: list[str],
) -> int:
    """Whole points, exactly: integer arithmetic (this runs on every checkout), floored once.

    points = charged x rate_per_fen x sum(price_i x multiplier_i) / sum(price_i), where
    price_i is line i's discounted price; every multiplier is put over one denominator.
    """
    common = common_multipliers(rules, level=level, store=store, member=member, day=day)
    applied.extend(name for name, _ in common)
    rate_num, rate_den = rate
    excluded = rules.discount_excluded_categories
    prices = [
        line.amount_fen * (rate_den if line.category in excluded else rate_num) for line in lines
    ]
    total = sum(prices)
    if total == 0:
        return 0
    bps = [bp for _, bp in common]
    multiply = rules.multiplier_combination == "multiply"
    # multiply: prod(bps) x category / BP^(n+1) (BP standing in for "no category");
    # max: the best single multiplier / BP.
    den = BP ** (len(bps) + 1) if multiply else BP
    product = math.prod(bps)
    weighted = 0
    for line, price in zip(lines, prices, strict=True):
        if line.category in rules.points_excluded_categories:
            continue
        category = rules.category_multipliers.get(line.category) if line.category else None
        if category is not None and f"category:{category[0]}" not in applied:
            applied.append(f"category:{category[0]}")
        if multiply:
            num = product * (category[1] if category is not None else BP)
        else:
            candidates = bps + ([category[1]] if category is not None else [])
            num = max(candidates) if candidates else BP
        weighted += price * num
    return (charged_fen * rules.points_per_yuan_bp * weighted) // (total * BP * 100 * den)


# --- recharge, expiry ---------------------------------------------------------------


def recharge_bonus(*, card: Card, member: Member | None, amount_fen: int, at: dt.datetime) -> int:
    """Bonus fen for a recharge: the best single plan that applies, 0 if none."""
    return best_recharge_plan(card=card, member=member, amount_fen=amount_fen, at=at)[1]


def best_recharge_plan(
    *, card: Card, member: Member | None, amount_fen: int, at: dt.datetime
) -> tuple[str | None, int]:
    """(plan name, bonus fen) of the plan giving the most; (None, 0) when none applies."""
    rules = current_rules()
    day = clock.to_local(at).date()
    level = member.level.name if member is not None and member.level is not None else None
    best: tuple[str | None, int] = (None, 0)
    for plan in rules.recharge_plans:
        bonus = plan.bonus(amount_fen=amount_fen, level=level, card_type=card.type, day=day)
        if bonus > best[1]:
            best = (plan.name, bonus)
    return best


def points_expiry(earned_at: dt.datetime | dt.date, rules: RuleSet | None = None) -> dt.date | None:
    """The last local date on which points earned at ``earned_at`` can be spent.

    ``months``: the day before the same day N months on (earned 2026-03-10 with
    12 months: usable through 2027-03-09); where that month is too short, its
    last day (2026-01-31 with 1 month: through 2026-02-28). ``end_of_next_year``: Dec 31 of
    the following year. ``never``: None. A lot with this date is expired by
    ``ledger expire --as-of D`` for any D after it.
    """
    from app.cards.services import add_months

    rules = rules or current_rules()
    day = clock.to_local(earned_at).date() if isinstance(earned_at, dt.datetime) else earned_at
    if rules.expiry_mode == "end_of_next_year":
        return dt.date(day.year + 1, 12, 31)
    if rules.expiry_mode == "months" and rules.expiry_months:
        end = add_months(day, rules.expiry_months)
        # Clamped to a shorter month's end (Jan 31 + 1 month): the whole last day counts.
        return end if end.day != day.day else end - dt.timedelta(days=1)
    return None


def after_checkout(
    transaction: Any, member: Member | None = None, *, card: Card | None = None
) -> None:
    """Called by the journal after a checkout posts: the referral bonus on a first purchase."""
    from app.ledger.rules.referral import referral_bonus

    member = member if member is not None else (card.member if card is not None else None)
    if member is not None:
        referral_bonus(transaction, member)
