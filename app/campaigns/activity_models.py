"""Club activities (会员活动): the activity, members' sign-ups, and win-back messages sent.

A sign-up is one row per member and activity (UNIQUE): cancelling and signing up again
reuse it, with a new place in the queue (``queued_at``).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, utcnow
from app.members.models import Member

SIGNUP_STATUSES = ("confirmed", "waiting", "cancelled")


def _in(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


class Activity(Base):
    __tablename__ = "activity"
    __table_args__ = (
        CheckConstraint("capacity > 0", name="capacity_positive"),
        CheckConstraint("points >= 0", name="points_nonnegative"),
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: What members text after 报名 / SIGNUP: upper-case letters and digits.
    code: Mapped[str] = mapped_column(String(16), unique=True)
    title_zh_hans: Mapped[str] = mapped_column(String(200))
    #: Empty: the Simplified title is shown.
    title_zh_hant: Mapped[str] = mapped_column(String(200), default="")
    title_en: Mapped[str] = mapped_column(String(200), default="")
    place: Mapped[str] = mapped_column(String(200))
    starts_at: Mapped[dt.datetime]
    ends_at: Mapped[dt.datetime]
    #: Confirmed places; sign-ups past it join the waiting list.
    capacity: Mapped[int]
    #: Only members whose level rank is at least this may sign up; None: anyone.
    min_level_rank: Mapped[int | None]
    #: Points a member who checks in gets, through the ledger; 0: none.
    points: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    def title_in(self, language: str) -> str:
        chosen = {"zh-Hant": self.title_zh_hant, "en": self.title_en}.get(language, "")
        return chosen or self.title_zh_hans


class ActivitySignup(Base):
    __tablename__ = "activity_signup"
    __table_args__ = (
        UniqueConstraint("activity_id", "member_id"),
        UniqueConstraint("activity_id", "checkin_code"),
        CheckConstraint(f"status IN {_in(SIGNUP_STATUSES)}", name="status"),
        CheckConstraint("rating IS NULL OR (rating >= 1 AND rating <= 5)", name="rating_range"),
        Index("ix_activity_signup_queue", "activity_id", "status", "queued_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activity.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    status: Mapped[str] = mapped_column(String(16))
    #: sms, wechat, simulator, counter.
    channel: Mapped[str] = mapped_column(String(16))
    #: Six digits the member shows at the door (sent on sign-up).
    checkin_code: Mapped[str] = mapped_column(String(8))
    #: The place in the waiting list (earliest first); reset when signing up again.
    queued_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    signed_up_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    cancelled_at: Mapped[dt.datetime | None]
    checked_in_at: Mapped[dt.datetime | None]
    #: The ledger transaction of the attendance points, when there were any.
    points_transaction_id: Mapped[int | None]
    rating_requested_at: Mapped[dt.datetime | None]
    rating: Mapped[int | None]
    comment: Mapped[str | None] = mapped_column(Text)
    rated_at: Mapped[dt.datetime | None]

    activity: Mapped[Activity] = relationship()
    member: Mapped[Member] = relationship()


class WinbackMessage(Base):
    """One win-back message queued for a member: at most one per member per idle period."""

    __tablename__ = "winback_message"
    #: One per member and day: two runs racing on one day cannot both queue one.
    __table_args__ = (UniqueConstraint("member_id", "sent_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"))
    #: The local day of the run that queued it.
    sent_on: Mapped[dt.date] = mapped_column(Date)
    run_key: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
