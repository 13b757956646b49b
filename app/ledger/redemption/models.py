"""Gifts with stock, coupon and voucher types, issued coupons and redemptions."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, utcnow

COUPON_KINDS = ("coupon", "voucher")
COUPON_STATES = ("issued", "redeemed", "void")
REDEMPTION_KINDS = ("gift", "coupon_exchange", "coupon_use")


class Gift(Base):
    """Something a member takes home for points. Stock is decremented by a checked UPDATE."""

    __tablename__ = "gift"
    __table_args__ = (
        CheckConstraint("points_cost > 0", name="cost_positive"),
        CheckConstraint("stock IS NULL OR stock >= 0", name="stock_nonnegative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    points_cost: Mapped[int] = mapped_column(BigInteger)
    #: Units left; None means unlimited. Never negative (checked UPDATE and CHECK).
    stock: Mapped[int | None]
    active: Mapped[bool] = mapped_column(default=True)


class CouponType(Base):
    """A kind of coupon (percentage off) or voucher (cash value), issued to members."""

    __tablename__ = "coupon_type"
    __table_args__ = (
        CheckConstraint(f"kind IN {COUPON_KINDS}", name="kind"),
        CheckConstraint("value_fen >= 0 AND min_spend_fen >= 0", name="money_nonnegative"),
        CheckConstraint("discount_bp > 0 AND discount_bp <= 10000", name="discount_range"),
        CheckConstraint("valid_days > 0", name="valid_days_positive"),
        CheckConstraint("points_cost >= 0", name="cost_nonnegative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(8))
    #: Voucher: cash value in fen.
    value_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    #: Coupon: price paid in basis points (9000 = 10% off).
    discount_bp: Mapped[int] = mapped_column(default=10000)
    min_spend_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    #: Days a coupon stays valid from issue (the issue day counts as day 1).
    valid_days: Mapped[int] = mapped_column(default=30)
    #: Points a member pays to take one; 0: given away only (campaigns, staff).
    points_cost: Mapped[int] = mapped_column(BigInteger, default=0)
    active: Mapped[bool] = mapped_column(default=True)


class Coupon(Base):
    """One issued coupon. Redeemed once: a checked UPDATE … WHERE state = 'issued'."""

    __tablename__ = "coupon"
    __table_args__ = (
        CheckConstraint(f"state IN {COUPON_STATES}", name="state"),
        CheckConstraint("(state = 'redeemed') = (redeemed_at IS NOT NULL)", name="redeemed_when"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: What the member shows at the counter (random, unguessable).
    code: Mapped[str] = mapped_column(String(24), unique=True)
    coupon_type_id: Mapped[int] = mapped_column(ForeignKey("coupon_type.id"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    state: Mapped[str] = mapped_column(String(10), default="issued")
    issued_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    #: Last local day it can be redeemed.
    expires_on: Mapped[dt.date]
    redeemed_at: Mapped[dt.datetime | None]
    redeemed_store_id: Mapped[int | None] = mapped_column(ForeignKey("store.id"))

    coupon_type: Mapped[CouponType] = relationship(lazy="joined")


class Redemption(Base):
    """Points exchanged for a gift or a coupon, or a coupon used: the receipt of it."""

    __tablename__ = "redemption"
    __table_args__ = (
        CheckConstraint(f"kind IN {REDEMPTION_KINDS}", name="kind"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("points_spent >= 0", name="points_nonnegative"),
        # Reports: the gift reports read a range of days.
        Index("ix_redemption_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    card_id: Mapped[int] = mapped_column(ForeignKey("card.id"), index=True)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("member.id"), index=True)
    gift_id: Mapped[int | None] = mapped_column(ForeignKey("gift.id"))
    coupon_id: Mapped[int | None] = mapped_column(ForeignKey("coupon.id"))
    quantity: Mapped[int] = mapped_column(default=1)
    points_spent: Mapped[int] = mapped_column(BigInteger, default=0)
    #: The journal transaction that debited the points; for a coupon use, the checkout
    #: that used it (None when the POS applied it to its own bill).
    transaction_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_transaction.id"))
    store_id: Mapped[int | None] = mapped_column(ForeignKey("store.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
