from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
    case,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, utcnow
from app.stores.models import Store

GENDERS = ("female", "male", "other", "unknown")
CALENDARS = ("solar", "lunar")
#: Where a member bound on WeChat wants alerts.
ALERT_CHANNELS = ("wechat", "sms", "both")
QUESTION_TYPES = ("text", "integer", "boolean", "date", "choice", "multi_choice")


class Level(Base):
    """A rank of the programme. Rates are integer basis points: 9500 = 95%, 15000 = 1.5x."""

    __tablename__ = "level"
    __table_args__ = (
        CheckConstraint("discount_bp > 0 AND discount_bp <= 10000", name="discount_range"),
        CheckConstraint("points_multiplier_bp >= 0", name="multiplier_nonnegative"),
        CheckConstraint("upgrade_threshold >= 0", name="threshold_nonnegative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The one name (used in rules and reports); the per-language names fall back to it.
    name: Mapped[str] = mapped_column(String(64), unique=True)
    #: The name members read in Simplified Chinese, Traditional Chinese and English.
    name_zh_hans: Mapped[str | None] = mapped_column(String(64))
    name_zh_hant: Mapped[str | None] = mapped_column(String(64))
    name_en: Mapped[str | None] = mapped_column(String(64))
    #: 1 is the entry level; higher ranks are better.
    rank: Mapped[int] = mapped_column(unique=True)
    #: Price paid in basis points of the list price: 9500 means 5% off.
    discount_bp: Mapped[int] = mapped_column(default=10000)
    #: Points multiplier in basis points: 10000 is 1x.
    points_multiplier_bp: Mapped[int] = mapped_column(default=10000)
    #: Growth needed to reach this level (never the current points balance).
    upgrade_threshold: Mapped[int] = mapped_column(BigInteger, default=0)

    def name_in(self, language: str) -> str:
        """The name in ``language`` (``zh-Hans``, ``zh-Hant``, ``en``), else the one name."""
        return getattr(self, LEVEL_NAME_COLUMNS.get(language, "name")) or self.name

    def names(self) -> dict[str, str]:
        """The name in every language, each falling back to the one name."""
        return {language: self.name_in(language) for language in LEVEL_NAME_COLUMNS}


#: A language's column of ``Level``'s names.
LEVEL_NAME_COLUMNS = {"zh-Hans": "name_zh_hans", "zh-Hant": "name_zh_hant", "en": "name_en"}


def level_name_sql(language: Any) -> Any:
    """SQL for the level's name in the language ``language`` (a column or a value) names."""
    return func.coalesce(
        case(
            *(
                (language == tag, getattr(Level, column))
                for tag, column in LEVEL_NAME_COLUMNS.items()
            )
        ),
        Level.name,
    )


class Member(Base):
    __tablename__ = "member"
    __table_args__ = (
        CheckConstraint(f"gender IN {GENDERS}", name="gender"),
        CheckConstraint(f"birthday_calendar IN {CALENDARS}", name="birthday_calendar"),
        CheckConstraint("language IN ('zh-Hans', 'zh-Hant', 'en')", name="language"),
        CheckConstraint(f"alert_channel IN {ALERT_CHANNELS}", name="alert_channel"),
        # Reports: members who joined in a range of days.
        Index("ix_member_joined_at", "joined_at"),
        # The day's birthdays over a million members: the few (calendar, month, day) keys
        # that fall on a date (birthdays.birthday_keys), never a scan of every member.
        Index("ix_member_birthday", "birthday_calendar", "birthday_month", "birthday_day"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: E.164, e.g. +8613800138000; also usable wherever a card number is asked for.
    phone: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str | None] = mapped_column(String(120))
    gender: Mapped[str] = mapped_column(String(8), default="unknown")
    #: As the member states it: a solar date, or lunar year-month-day when the calendar is lunar.
    birthday_year: Mapped[int | None]
    birthday_month: Mapped[int | None]
    birthday_day: Mapped[int | None]
    birthday_calendar: Mapped[str] = mapped_column(String(8), default="solar")
    lunar_leap_month: Mapped[bool] = mapped_column(default=False)
    language: Mapped[str] = mapped_column(String(8), default="zh-Hans")
    home_store_id: Mapped[int] = mapped_column(ForeignKey("store.id"), index=True)
    level_id: Mapped[int | None] = mapped_column(ForeignKey("level.id"), index=True)
    region: Mapped[str | None] = mapped_column(String(64))
    occupation: Mapped[str | None] = mapped_column(String(64))
    income_band: Mapped[str | None] = mapped_column(String(32))
    #: Interest tags, a list of short strings.
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: Answers to the admin's questionnaire, keyed by question key.
    answers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    referrer_id: Mapped[int | None] = mapped_column(ForeignKey("member.id"), index=True)
    #: Indexed: reports count the members who joined in a range.
    joined_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    #: Per-channel opt-outs; checked when a message is sent, not when it is queued.
    sms_opt_out: Mapped[bool] = mapped_column(default=False)
    wechat_opt_out: Mapped[bool] = mapped_column(default=False)
    #: Where alerts go for a member bound on WeChat: ``wechat``, ``sms`` or ``both``. Binding
    #: sets ``wechat`` when unset (template messages cost the shop nothing) and unbinding
    #: clears ``wechat``/``both``; None: never bound, alerts by SMS.
    alert_channel: Mapped[str | None] = mapped_column(String(8))

    home_store: Mapped[Store] = relationship(lazy="joined")
    level: Mapped[Level | None] = relationship(lazy="joined")
    referrer: Mapped[Member | None] = relationship(remote_side=[id])


class Question(Base):
    """One field of the admin-defined questionnaire; answers live in ``Member.answers``."""

    __tablename__ = "question"
    __table_args__ = (
        CheckConstraint(f"type IN {QUESTION_TYPES}", name="type"),
        UniqueConstraint("key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Stable key used in JSON, e.g. ``favourite_dish``.
    key: Mapped[str] = mapped_column(String(64))
    #: The question as asked; the per-language labels fall back to it.
    label: Mapped[str] = mapped_column(String(200))
    #: The question as staff read it in Simplified Chinese, Traditional Chinese and English.
    label_zh_hans: Mapped[str | None] = mapped_column(String(200))
    label_zh_hant: Mapped[str | None] = mapped_column(String(200))
    label_en: Mapped[str | None] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(16))
    #: Allowed values for choice and multi_choice questions.
    choices: Mapped[list[str]] = mapped_column(JSON, default=list)
    required: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)

    def label_in(self, language: str) -> str:
        """The label in ``language`` (``zh-Hans``, ``zh-Hant``, ``en``), else the one label."""
        return getattr(self, QUESTION_LABEL_COLUMNS.get(language, "label")) or self.label


#: A language's column of ``Question``'s labels.
QUESTION_LABEL_COLUMNS = {"zh-Hans": "label_zh_hans", "zh-Hant": "label_zh_hant", "en": "label_en"}


#: Alerts a member can switch off (and the admin for the whole programme, in messaging).
ALERT_TYPES = ("transaction", "low_balance", "level", "points_expiring")


class AlertPreference(Base):
    """A member's switch for one alert type; no row means on."""

    __tablename__ = "alert_preference"
    __table_args__ = (
        UniqueConstraint("member_id", "alert_type"),
        CheckConstraint(f"alert_type IN {ALERT_TYPES!r}", name="alert_type"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"))
    alert_type: Mapped[str] = mapped_column(String(32))
    enabled: Mapped[bool] = mapped_column(Boolean)
    changed_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class WechatBinding(Base):
    """A WeChat openid bound to a member: one openid per member and one member per openid.

    The member proved the phone (a code sent to it by SMS) or scanned a scene QR the
    counter showed them; unbinding deletes the row, so the phone can bind another openid.
    """

    __tablename__ = "wechat_binding"
    __table_args__ = (CheckConstraint("via IN ('code', 'scene')", name="via"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    openid: Mapped[str] = mapped_column(String(64), unique=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), unique=True)
    via: Mapped[str] = mapped_column(String(8))
    bound_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class PhoneCode(Base):
    """A six-digit code sent by SMS to a phone, to prove it before an openid binds to it.

    Only a hash is kept; a code expires, and too many wrong tries void it.
    """

    __tablename__ = "phone_code"
    __table_args__ = (
        CheckConstraint("purpose IN ('bind', 'join')", name="purpose"),
        CheckConstraint("attempts >= 0", name="attempts"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    openid: Mapped[str] = mapped_column(String(64), index=True)
    #: E.164.
    phone: Mapped[str] = mapped_column(String(20))
    #: ``bind`` an existing member, or ``join`` (make the member once the code checks).
    purpose: Mapped[str] = mapped_column(String(8))
    code_hash: Mapped[str] = mapped_column(String(128))
    attempts: Mapped[int] = mapped_column(default=0)
    expires_at: Mapped[dt.datetime]
    #: Set when the code was used or voided: it never works again.
    closed_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
