"""The programme's rules as data: earning, discounts, recharge bonuses, expiry, growth.

Rules are edited as one JSON document (``laoyou rules import``) and later in the
admin panel; ``app.ledger.rules.engine`` reads them into an immutable snapshot. Rates
are integer basis points (10000 = 1x, 9500 = pay 95%); money is integer fen.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, BigInteger, CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, utcnow

MULTIPLIER_COMBINATIONS = ("multiply", "max")
DISCOUNT_STACKINGS = ("best", "multiply")
EXPIRY_MODES = ("never", "months", "end_of_next_year")
GROWTH_SOURCES = ("spend", "points")
EARNING_RULE_KINDS = ("store", "category", "period")
GROWTH_REASONS = ("earn", "refund", "downgrade", "adjust")
LEVEL_CHANGE_REASONS = ("upgrade", "downgrade", "refund", "manual")
CATEGORY_KINDS = ("product", "service")
#: A language's column of ``Category``'s names (as ``Level``'s).
CATEGORY_NAME_COLUMNS = {"zh-Hans": "name_zh_hans", "zh-Hant": "name_zh_hant", "en": "name_en"}


class ProgramRules(Base):
    """The single row (id 1) of programme-wide settings."""

    __tablename__ = "program_rules"
    __table_args__ = (
        CheckConstraint("points_per_yuan_bp >= 0", name="points_rate_nonnegative"),
        CheckConstraint(f"multiplier_combination IN {MULTIPLIER_COMBINATIONS}", name="combination"),
        CheckConstraint(f"discount_stacking IN {DISCOUNT_STACKINGS}", name="stacking"),
        CheckConstraint(f"expiry_mode IN {EXPIRY_MODES}", name="expiry_mode"),
        CheckConstraint(f"growth_source IN {GROWTH_SOURCES}", name="growth_source"),
        CheckConstraint("offset_points_per_yuan > 0", name="offset_rate_positive"),
        CheckConstraint("max_offset_bp >= 0 AND max_offset_bp <= 10000", name="max_offset"),
        CheckConstraint("signup_points >= 0 AND referral_points >= 0", name="gifts_nonnegative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Changes on every import; caches of the rules compare it (a random token, so a
    #: rolled-back import can never be mistaken for the committed one).
    revision: Mapped[str] = mapped_column(String(32))
    #: 积分系数: points per yuan paid, in basis points (10000 = 1 point per yuan).
    points_per_yuan_bp: Mapped[int] = mapped_column(default=10000)
    multiplier_combination: Mapped[str] = mapped_column(String(12), default="multiply")
    #: Birthday-month multiplier (10000 = none).
    birthday_multiplier_bp: Mapped[int] = mapped_column(default=10000)
    #: Categories whose lines earn no points (e.g. tobacco, gift cards).
    points_excluded_categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    signup_points: Mapped[int] = mapped_column(BigInteger, default=0)
    #: Points for the referrer when a referred member first spends.
    referral_points: Mapped[int] = mapped_column(BigInteger, default=0)
    discount_stacking: Mapped[str] = mapped_column(String(12), default="best")
    #: Categories whose lines are never discounted.
    discount_excluded_categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: Points as cash: this many points pay one yuan.
    offset_points_per_yuan: Mapped[int] = mapped_column(default=100)
    #: At most this share of the bill (after discount) may be paid with points.
    max_offset_bp: Mapped[int] = mapped_column(default=10000)
    expiry_mode: Mapped[str] = mapped_column(String(20), default="never")
    expiry_months: Mapped[int | None]
    growth_source: Mapped[str] = mapped_column(String(8), default="spend")
    #: Growth per yuan charged (source "spend") or per point earned (source "points"), in bp.
    growth_rate_bp: Mapped[int] = mapped_column(default=10000)
    #: Yearly level review: members below their level's keep threshold go down one level.
    downgrade_enabled: Mapped[bool] = mapped_column(default=False)
    review_months: Mapped[int] = mapped_column(default=12)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class EarningRule(Base):
    """A points multiplier for a store, a product category or a special period."""

    __tablename__ = "earning_rule"
    __table_args__ = (
        CheckConstraint(f"kind IN {EARNING_RULE_KINDS}", name="kind"),
        CheckConstraint("multiplier_bp >= 0", name="multiplier_nonnegative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    name: Mapped[str] = mapped_column(String(80))
    multiplier_bp: Mapped[int]
    #: kind "store": the store's code.
    store_code: Mapped[str | None] = mapped_column(String(32))
    #: kind "category": the item category.
    category: Mapped[str | None] = mapped_column(String(64))
    #: kind "period": ISO weekdays (1 = Monday) and/or days of the month, local time;
    #: either list empty means "any"; both empty with a date range means every day in it.
    weekdays: Mapped[list[int]] = mapped_column(JSON, default=list)
    month_days: Mapped[list[int]] = mapped_column(JSON, default=list)
    #: Inclusive local dates; None means open-ended.
    starts_on: Mapped[dt.date | None]
    ends_on: Mapped[dt.date | None]


class CardDiscount(Base):
    """A discount for every holder of a card type (e.g. stored-value cards pay 98%)."""

    __tablename__ = "card_discount"
    __table_args__ = (
        UniqueConstraint("card_type"),
        CheckConstraint("discount_bp > 0 AND discount_bp <= 10000", name="discount_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    card_type: Mapped[str] = mapped_column(String(16))
    #: Price paid in basis points: 9800 = 2% off.
    discount_bp: Mapped[int]


class OverdraftLimit(Base):
    """The overdraft (透支额度) every card of a type may use, unless the card has its own.

    Only stored value can be overdrawn: another type's limit is 0. Read at each checkout
    (through the rules' revision), so a change applies to the next one.
    """

    __tablename__ = "overdraft_limit"
    __table_args__ = (
        CheckConstraint("credit_limit_fen >= 0", name="credit_limit_nonnegative"),
        CheckConstraint(
            "card_type = 'stored_value' OR credit_limit_fen = 0", name="stored_value_only"
        ),
    )

    card_type: Mapped[str] = mapped_column(String(16), primary_key=True)
    #: How far below zero a card's paid stored value may go, in fen.
    credit_limit_fen: Mapped[int] = mapped_column(BigInteger)


class RechargePlan(Base):
    """One recharge bonus tier: fixed fen or a percentage, from a minimum recharge."""

    __tablename__ = "recharge_plan"
    __table_args__ = (
        CheckConstraint("min_amount_fen > 0", name="min_amount_positive"),
        CheckConstraint("bonus_fen >= 0 AND bonus_bp >= 0", name="bonus_nonnegative"),
        UniqueConstraint("name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    min_amount_fen: Mapped[int] = mapped_column(BigInteger)
    #: Fixed bonus (充500送50: min 50000, bonus 5000).
    bonus_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    #: Percentage bonus in basis points of the recharge (1000 = 10%).
    bonus_bp: Mapped[int] = mapped_column(default=0)
    #: Fixed bonus once per full ``min_amount_fen`` (每满500送50) instead of once.
    repeat: Mapped[bool] = mapped_column(default=False)
    #: Level names the plan is for; empty = every member (and anonymous cards).
    levels: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: Card types the plan is for; empty = every type.
    card_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    starts_on: Mapped[dt.date | None]
    ends_on: Mapped[dt.date | None]


class Category(Base):
    """A product or service category (美容类, 健身类, 酒水…), named as the till names a line's.

    The list is optional: with none, the rules may name any category a till sends; with
    some, earning rates and exclusions may name only those, so a typo cannot make a rule
    that never applies.
    """

    __tablename__ = "product_category"
    __table_args__ = (CheckConstraint(f"kind IN {CATEGORY_KINDS}", name="kind"),)

    #: The category as a checkout's line carries it.
    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(12))
    name_zh_hans: Mapped[str | None] = mapped_column(String(64))
    name_zh_hant: Mapped[str | None] = mapped_column(String(64))
    name_en: Mapped[str | None] = mapped_column(String(64))


class LevelRule(Base):
    """What the Level row does not hold: the growth needed to keep the level at review."""

    __tablename__ = "level_rule"

    level_id: Mapped[int] = mapped_column(ForeignKey("level.id"), primary_key=True)
    #: Growth earned in the review window needed to keep this level; 0 = never reviewed.
    keep_threshold: Mapped[int] = mapped_column(BigInteger, default=0)


class MemberGrowth(Base):
    """A member's current growth (成长值): the sum of their growth entries."""

    __tablename__ = "member_growth"
    __table_args__ = (CheckConstraint("growth >= 0", name="growth_nonnegative"),)

    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), primary_key=True)
    growth: Mapped[int] = mapped_column(BigInteger, default=0)


class GrowthEntry(Base):
    """Append-only history of growth; ``member_growth.growth`` is their sum."""

    __tablename__ = "growth_entry"
    __table_args__ = (CheckConstraint(f"reason IN {GROWTH_REASONS}", name="reason"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    delta: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(12))
    #: The ledger transaction that caused it (checkout, refund), if any. Not indexed:
    #: nothing looks entries up by it, and every checkout writes one.
    transaction_id: Mapped[int | None]
    #: For a downgrade: the review's as-of date, so a repeated review changes nothing.
    review_on: Mapped[dt.date | None]
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class LevelChangeRecord(Base):
    """Every change of a member's level, as a new row."""

    __tablename__ = "level_change"
    __table_args__ = (CheckConstraint(f"reason IN {LEVEL_CHANGE_REASONS}", name="reason"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    old_level_id: Mapped[int | None] = mapped_column(ForeignKey("level.id"))
    new_level_id: Mapped[int | None] = mapped_column(ForeignKey("level.id"))
    reason: Mapped[str] = mapped_column(String(12))
    transaction_id: Mapped[int | None]
    #: Growth after the change that caused it (for the audit trail).
    growth: Mapped[int] = mapped_column(BigInteger)
    review_on: Mapped[dt.date | None]
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
