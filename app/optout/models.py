from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, utcnow

OPT_CHANNELS = ("sms", "wechat")


class OptOut(Base):
    """Where an address stands now: one row per channel and address, members or not.

    The dispatcher reads this at send time, so it is one indexed lookup.
    """

    __tablename__ = "opt_out"
    __table_args__ = (
        CheckConstraint(f"channel IN {OPT_CHANNELS}", name="channel"),
        UniqueConstraint("channel", "address"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    #: E.164 phone for sms, openid for wechat.
    address: Mapped[str] = mapped_column(String(128))
    opted_out: Mapped[bool] = mapped_column(default=True)
    changed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class OptOutEvent(Base):
    """Every change, kept: when a number opted out or back in, and through what."""

    __tablename__ = "opt_out_event"
    __table_args__ = (CheckConstraint(f"channel IN {OPT_CHANNELS}", name="channel"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(128), index=True)
    #: True for an opt-out, False for an opt-in.
    opted_out: Mapped[bool]
    #: What caused it, e.g. ``sms:STOP``, ``wechat:unsubscribe``, ``admin``.
    source: Mapped[str] = mapped_column(String(64))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
