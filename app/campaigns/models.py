from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, utcnow
from app.members.models import Member
from app.stores.models import Store

CAMPAIGN_STATUSES = ("open", "closed")


class Vote(Base):
    __tablename__ = "vote"
    __table_args__ = (CheckConstraint(f"status IN {CAMPAIGN_STATUSES}", name="status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(8), default="open")
    opened_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[dt.datetime | None]

    options: Mapped[list[VoteOption]] = relationship(
        back_populates="vote", order_by="VoteOption.id", cascade="all, delete-orphan"
    )


class VoteOption(Base):
    __tablename__ = "vote_option"
    __table_args__ = (UniqueConstraint("vote_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    vote_id: Mapped[int] = mapped_column(ForeignKey("vote.id"), index=True)
    #: What members text: ``A``, ``B``, ``1``… (upper case).
    code: Mapped[str] = mapped_column(String(16))
    label: Mapped[str] = mapped_column(String(200))

    vote: Mapped[Vote] = relationship(back_populates="options")


class VoteBallot(Base):
    """One per member and vote: the database refuses a second."""

    __tablename__ = "vote_ballot"
    __table_args__ = (UniqueConstraint("vote_id", "member_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    vote_id: Mapped[int] = mapped_column(ForeignKey("vote.id"))
    option_id: Mapped[int] = mapped_column(ForeignKey("vote_option.id"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    #: sms, wechat, simulator.
    channel: Mapped[str] = mapped_column(String(16))
    cast_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    option: Mapped[VoteOption] = relationship()


class Draw(Base):
    __tablename__ = "draw"
    __table_args__ = (
        CheckConstraint(f"status IN {CAMPAIGN_STATUSES}", name="status"),
        CheckConstraint("points_cost >= 0", name="points_cost_nonnegative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(8), default="open")
    #: Only members whose level rank is at least this may enter; None: anyone.
    min_level_rank: Mapped[int | None]
    #: Points an entry costs, debited through the ledger; 0: free.
    points_cost: Mapped[int] = mapped_column(BigInteger, default=0)
    opened_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[dt.datetime | None]


class DrawEntry(Base):
    """One per member and draw: the database refuses a second."""

    __tablename__ = "draw_entry"
    __table_args__ = (
        UniqueConstraint("draw_id", "member_id"),
        CheckConstraint("points_paid >= 0", name="points_paid_nonnegative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    draw_id: Mapped[int] = mapped_column(ForeignKey("draw.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    points_paid: Mapped[int] = mapped_column(BigInteger, default=0)
    #: The ledger transaction that paid the points cost, when there was one.
    ledger_transaction_id: Mapped[int | None]
    channel: Mapped[str] = mapped_column(String(16))
    entered_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class StoreMessage(Base):
    """A member's note to their home store (留言), read later by staff."""

    __tablename__ = "store_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("store.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    channel: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    #: Set when staff have read it; None: unread.
    read_at: Mapped[dt.datetime | None]

    member: Mapped[Member] = relationship()
    store: Mapped[Store] = relationship()
