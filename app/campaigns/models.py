from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, utcnow
from app.members.models import Member
from app.stores.models import Store

#: scheduled -> open -> closed; scheduled or open -> cancelled. Nothing leaves closed or
#: cancelled.
CAMPAIGN_STATUSES = ("scheduled", "open", "closed", "cancelled")


class Vote(Base):
    __tablename__ = "vote"
    __table_args__ = (
        CheckConstraint(f"status IN {CAMPAIGN_STATUSES}", name="status"),
        Index("ix_vote_status", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="open")
    #: When it opens by itself (the campaign_schedule job); None: opened by hand.
    opens_at: Mapped[dt.datetime | None]
    #: When it closes by itself and its results go to the voters; None: closed by hand.
    closes_at: Mapped[dt.datetime | None]
    #: Only members whose level rank is at least this may vote; None: anyone.
    min_level_rank: Mapped[int | None]
    #: A saved segment's key (see ``campaigns.eligibility``); None: no segment.
    segment_key: Mapped[str | None] = mapped_column(String(64))
    #: When it actually opened (None while scheduled).
    opened_at: Mapped[dt.datetime | None] = mapped_column(default=utcnow)
    closed_at: Mapped[dt.datetime | None]
    cancelled_at: Mapped[dt.datetime | None]

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
        Index("ix_draw_status", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="open")
    #: Only members whose level rank is at least this may enter; None: anyone.
    min_level_rank: Mapped[int | None]
    #: A saved segment's key (see ``campaigns.eligibility``); None: no segment.
    segment_key: Mapped[str | None] = mapped_column(String(64))
    #: Points an entry costs, debited through the ledger; 0: free.
    points_cost: Mapped[int] = mapped_column(BigInteger, default=0)
    #: When it opens by itself; None: opened by hand.
    opens_at: Mapped[dt.datetime | None]
    #: When it closes by itself, drawing its winners; None: drawn by hand.
    closes_at: Mapped[dt.datetime | None]
    #: The secret: 32 random bytes made when the draw opens, shown only once drawn.
    seed: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    #: SHA-256 of the seed (hex), published from the moment the draw opens.
    seed_sha256: Mapped[str | None] = mapped_column(String(64))
    #: SHA-256 (hex) of the ordered entry list the winners were drawn from.
    entries_sha256: Mapped[str | None] = mapped_column(String(64))
    opened_at: Mapped[dt.datetime | None] = mapped_column(default=utcnow)
    closed_at: Mapped[dt.datetime | None]
    cancelled_at: Mapped[dt.datetime | None]

    prizes: Mapped[list[DrawPrize]] = relationship(
        back_populates="draw", order_by="DrawPrize.position", cascade="all, delete-orphan"
    )


class DrawPrize(Base):
    """A prize and how many of it; the first position is drawn first."""

    __tablename__ = "draw_prize"
    __table_args__ = (
        UniqueConstraint("draw_id", "position"),
        CheckConstraint("winners >= 1", name="winners_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    draw_id: Mapped[int] = mapped_column(ForeignKey("draw.id"))
    #: 1 for the first prize, 2 for the second…
    position: Mapped[int]
    name: Mapped[str] = mapped_column(String(200))
    #: How many of this prize are given.
    winners: Mapped[int]

    draw: Mapped[Draw] = relationship(back_populates="prizes")


class DrawWinner(Base):
    """One winning entry, in the order drawn (``pick`` 1, 2, …)."""

    __tablename__ = "draw_winner"
    __table_args__ = (
        UniqueConstraint("draw_id", "pick"),
        UniqueConstraint("draw_id", "entry_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    draw_id: Mapped[int] = mapped_column(ForeignKey("draw.id"))
    pick: Mapped[int]
    prize_id: Mapped[int] = mapped_column(ForeignKey("draw_prize.id"), index=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("draw_entry.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)

    prize: Mapped[DrawPrize] = relationship()
    member: Mapped[Member] = relationship()


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
    #: The reversing transaction that gave the points back when the draw was cancelled.
    refund_transaction_id: Mapped[int | None]
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


class Segment(Base):
    """A saved set of members: a JSON tree of conditions (see ``segments.py``)."""

    __tablename__ = "segment"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    #: The condition tree, as validated by ``segments.parse_definition``.
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


BROADCAST_STATUSES = ("scheduled", "queuing", "queued", "cancelled")
#: sms; wechat (bound followers only); wechat_or_sms (WeChat when bound, SMS otherwise).
BROADCAST_CHANNELS = ("sms", "wechat", "wechat_or_sms")
#: Why a member of the segment got nothing.
SKIP_REASONS = ("opted_out", "no_wechat")


class Broadcast(Base):
    """A marketing message to a segment, now or at ``send_at`` (定时发送)."""

    __tablename__ = "broadcast"
    __table_args__ = (
        CheckConstraint(f"status IN {BROADCAST_STATUSES}", name="status"),
        CheckConstraint(f"channels IN {BROADCAST_CHANNELS}", name="channels"),
        # The job's query: scheduled broadcasts whose time has come.
        Index("ix_broadcast_due", "status", "send_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    #: The saved segment it was aimed at; None: every member.
    segment_id: Mapped[int | None] = mapped_column(ForeignKey("segment.id"), index=True)
    #: The segment's conditions as they were when the broadcast was made (its snapshot).
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    channels: Mapped[str] = mapped_column(String(16))
    #: The text per language (zh-Hans, zh-Hant, en) with {name} {points} {level} {store}.
    texts: Mapped[dict[str, str]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(12), default="scheduled")
    send_at: Mapped[dt.datetime]
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    queued_at: Mapped[dt.datetime | None]
    cancelled_at: Mapped[dt.datetime | None]
    #: Members of the segment the broadcast reached (one per channel), and those skipped.
    targeted: Mapped[int] = mapped_column(BigInteger, default=0)
    skipped: Mapped[int] = mapped_column(BigInteger, default=0)
    #: Outbox rows written so far (the progress of queueing).
    queued: Mapped[int] = mapped_column(BigInteger, default=0)


class BroadcastRecipient(Base):
    """The broadcast's snapshot: every member of the segment, and why one was skipped.

    Keyed by (broadcast, member, channel) with no surrogate id: a million-member snapshot
    pays for one index, which also serves the pages queueing reads (by member id).
    """

    __tablename__ = "broadcast_recipient"
    __table_args__ = (
        CheckConstraint(f"skipped IS NULL OR skipped IN {SKIP_REASONS}", name="skipped"),
    )

    broadcast_id: Mapped[int] = mapped_column(ForeignKey("broadcast.id"), primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), primary_key=True)
    channel: Mapped[str] = mapped_column(String(8), primary_key=True)
    #: The phone or openid (empty when skipped for having none).
    address: Mapped[str] = mapped_column(String(128))
    #: None: queued; else the reason (SKIP_REASONS).
    skipped: Mapped[str | None] = mapped_column(String(16))
