"""Outbound messages (the outbox), inbound messages (for deduplication) and alert switches.

The outbox is the only way a message leaves Laoyou: a row written in the same
transaction as the event that caused it, sent later by the dispatcher.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, utcnow
from app.members.models import ALERT_TYPES

OUTBOX_CHANNELS = ("sms", "wechat")
KINDS = ("reply", "alert", "marketing", "system")
#: Our statuses mirror Twilio's: queued (waiting in the outbox), sending (claimed by a
#: dispatcher, or accepted by the provider and on its way), sent (handed to the carrier),
#: then one final state. ``suppressed`` means we chose not to send (opt-out).
STATUSES = ("queued", "sending", "sent", "delivered", "undelivered", "failed", "suppressed")
FINAL_STATUSES = ("delivered", "undelivered", "failed", "suppressed")
#: Order for status callbacks: a status never moves to a lower rank.
STATUS_RANK = {
    "queued": 0,
    "sending": 1,
    "sent": 2,
    "delivered": 3,
    "undelivered": 3,
    "failed": 3,
    "suppressed": 3,
}


def _in(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


class OutboxMessage(Base):
    __tablename__ = "outbox_message"
    __table_args__ = (
        CheckConstraint(f"channel IN {_in(OUTBOX_CHANNELS)}", name="channel"),
        CheckConstraint(f"kind IN {_in(KINDS)}", name="kind"),
        CheckConstraint(f"status IN {_in(STATUSES)}", name="status"),
        CheckConstraint("attempts >= 0", name="attempts"),
        # The dispatcher's claim query: due rows by status and time.
        Index("ix_outbox_message_due", "status", "next_attempt_at"),
        # Status callbacks find a row by the provider's id. Partial: a row gets its id
        # only once sent, so enqueueing (inside every checkout) writes no entry here.
        Index(
            "ix_outbox_message_provider_id",
            "provider_id",
            unique=True,
            postgresql_where=text("provider_id IS NOT NULL"),
            sqlite_where=text("provider_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16), default="sms")
    #: E.164 phone for sms, openid for wechat.
    #: Not indexed, nor is ``member_id``: no query filters on them in production (the
    #: simulator's ``queued_for`` scans newest first), and every index is a page more
    #: for each alert a checkout writes.
    address: Mapped[str] = mapped_column(String(128))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("member.id"))
    kind: Mapped[str] = mapped_column(String(16))
    #: For alerts: transaction | low_balance | level.
    alert_type: Mapped[str | None] = mapped_column(String(32))
    #: The text as written; marketing gets its signature and unsubscribe line at send time.
    body: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(8), default="zh-Hans")
    #: Makes enqueueing idempotent: the same event never queues two messages.
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    #: Only the opt-out confirmation itself may go to an opted-out address.
    opt_out_confirmation: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    #: While ``sending`` without a provider id: another dispatcher may re-claim after this.
    lease_until: Mapped[dt.datetime | None]
    #: Twilio MessageSid once the provider accepted the message.
    provider_id: Mapped[str | None] = mapped_column(String(64))
    #: The sender number (or service) used: the rate limit is per sender.
    sender: Mapped[str | None] = mapped_column(String(64))
    #: The exact text handed to the provider.
    sent_body: Mapped[str | None] = mapped_column(Text)
    last_error: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    sent_at: Mapped[dt.datetime | None]


class InboundMessage(Base):
    """Every inbound message once: the provider's id makes a retried webhook a replay."""

    __tablename__ = "inbound_message"
    __table_args__ = (
        UniqueConstraint("channel", "provider_id"),
        CheckConstraint("status IN ('replied', 'silent')", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    #: Twilio MessageSid / WeChat MsgId.
    provider_id: Mapped[str] = mapped_column(String(64))
    sender: Mapped[str] = mapped_column(String(128))
    text: Mapped[str] = mapped_column(Text)
    reply: Mapped[str] = mapped_column(Text, default="")
    reply_language: Mapped[str | None] = mapped_column(String(8))
    command: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ProgrammeAlertSetting(Base):
    """The admin's programme-wide switch for one alert type; no row means on."""

    __tablename__ = "programme_alert_setting"
    __table_args__ = (CheckConstraint(f"alert_type IN {_in(ALERT_TYPES)}", name="alert_type"),)

    alert_type: Mapped[str] = mapped_column(String(32), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean)
    changed_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class QuietHoursSetting(Base):
    """The programme's quiet hours as saved in the panel; no row means the service's
    ``QUIET_HOURS_START`` / ``_END`` settings. A row with neither time means none at all."""

    __tablename__ = "quiet_hours_setting"
    __table_args__ = (
        CheckConstraint("id = 1", name="one_row"),
        CheckConstraint("(start_hhmm IS NULL) = (end_hhmm IS NULL)", name="both_or_neither"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Local time (the programme's TIMEZONE) as HH:MM; may be after the end (spans midnight).
    start_hhmm: Mapped[str | None] = mapped_column(String(5))
    end_hhmm: Mapped[str | None] = mapped_column(String(5))
    changed_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class SenderSlot(Base):
    """The shared rate limit: when each sender number may send next (all dispatchers)."""

    __tablename__ = "sms_sender_slot"

    sender: Mapped[str] = mapped_column(String(64), primary_key=True)
    next_at: Mapped[dt.datetime]


class WechatAccessToken(Base):
    """The WeChat API's access token, shared by every process (WeChat allows one at a time:
    a new one ends the old after a few minutes), refreshed before it expires."""

    __tablename__ = "wechat_access_token"

    app_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    token: Mapped[str] = mapped_column(Text, default="")
    expires_at: Mapped[dt.datetime]
    refreshed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
