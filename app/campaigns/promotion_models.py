"""Promotions (促销活动) and each time one was applied at a checkout."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, utcnow
from app.members.models import Level
from app.stores.models import Store

#: The multiplier's bounds in basis points: 1× (none) to 10×.
MIN_MULTIPLIER_BP = 10000
MAX_MULTIPLIER_BP = 100000
#: The most bonus points one promotion may give per checkout.
MAX_BONUS_POINTS = 100000
#: A promotion's name per language: the column of each.
PROMOTION_NAME_COLUMNS = {"zh-Hans": "name_zh_hans", "zh-Hant": "name_zh_hant", "en": "name_en"}


class Promotion(Base):
    """Conditions (all that are set must hold) and an effect, in force for a time window."""

    __tablename__ = "promotion"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="window"),
        CheckConstraint(
            f"multiplier_bp >= {MIN_MULTIPLIER_BP} AND multiplier_bp <= {MAX_MULTIPLIER_BP}",
            name="multiplier_range",
        ),
        CheckConstraint(
            f"bonus_points >= 0 AND bonus_points <= {MAX_BONUS_POINTS}", name="bonus_range"
        ),
        CheckConstraint("min_spend_fen >= 0", name="min_spend_nonnegative"),
        CheckConstraint(
            f"multiplier_bp > {MIN_MULTIPLIER_BP} OR bonus_points > 0 OR coupon_type IS NOT NULL",
            name="has_effect",
        ),
        # The checkout's question: which promotions are in force now.
        Index("ix_promotion_window", "ends_at", "starts_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The name members read, per language; at least one is set, the others fall back.
    name_zh_hans: Mapped[str | None] = mapped_column(String(120))
    name_zh_hant: Mapped[str | None] = mapped_column(String(120))
    name_en: Mapped[str | None] = mapped_column(String(120))
    #: In force from ``starts_at`` (inclusive) to ``ends_at`` (exclusive), UTC.
    starts_at: Mapped[dt.datetime]
    ends_at: Mapped[dt.datetime]
    #: Set when ended early from the panel: no longer in force from then.
    ended_at: Mapped[dt.datetime | None]
    #: Conditions: only members of this level; only at this store; at least this much
    #: money charged; only when an item of this product category is bought; only members
    #: of this saved segment (as they are at the checkout). None: any.
    level_id: Mapped[int | None] = mapped_column(ForeignKey("level.id"))
    segment_id: Mapped[int | None] = mapped_column(ForeignKey("segment.id"))
    store_id: Mapped[int | None] = mapped_column(ForeignKey("store.id"))
    min_spend_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    category: Mapped[str | None] = mapped_column(String(64))
    #: Effects: extra points multiplier (15000 = 1.5×), bonus points, a coupon type's code.
    multiplier_bp: Mapped[int] = mapped_column(default=MIN_MULTIPLIER_BP)
    bonus_points: Mapped[int] = mapped_column(BigInteger, default=0)
    coupon_type: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    level: Mapped[Level | None] = relationship()
    store: Mapped[Store | None] = relationship()

    def name_in(self, language: str) -> str:
        """The name in ``language``, else the first one set (zh-Hans, zh-Hant, en)."""
        own = getattr(self, PROMOTION_NAME_COLUMNS.get(language, "name_zh_hans"))
        return own or self.name_zh_hans or self.name_zh_hant or self.name_en or ""

    def names(self) -> dict[str, str]:
        return {language: self.name_in(language) for language in PROMOTION_NAME_COLUMNS}


class PromotionUse(Base):
    """A promotion applied to one checkout: what it gave, written in the checkout's
    transaction. The report (members reached, times applied, points given) reads these."""

    __tablename__ = "promotion_use"
    __table_args__ = (
        UniqueConstraint("promotion_id", "transaction_id"),
        CheckConstraint("points >= 0", name="points_nonnegative"),
        Index("ix_promotion_use_promotion_member", "promotion_id", "member_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    promotion_id: Mapped[int] = mapped_column(ForeignKey("promotion.id"))
    #: The checkout (a ledger transaction) it was applied to.
    transaction_id: Mapped[int] = mapped_column(ForeignKey("ledger_transaction.id"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    points: Mapped[int] = mapped_column(BigInteger, default=0)
    #: The code of the coupon it gave, if any.
    coupon_code: Mapped[str | None] = mapped_column(String(24))
    applied_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
