from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, utcnow
from app.members.models import Member
from app.stores.models import Store

CARD_TYPES = ("points", "stored_value", "count", "period", "gift")
CARD_STATES = ("active", "lost", "frozen", "cancelled", "expired")
MEDIUM_KINDS = ("barcode", "magstripe", "ic_uid", "qr_token")


class Card(Base):
    __tablename__ = "card"
    __table_args__ = (
        CheckConstraint(f"type IN {CARD_TYPES}", name="type"),
        CheckConstraint(f"state IN {CARD_STATES}", name="state"),
        CheckConstraint("credit_limit_fen >= 0", name="credit_limit_nonnegative"),
        CheckConstraint("pin_failures >= 0", name="pin_failures_nonnegative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Generated, Luhn-checked, unique and never reused (cards are never deleted).
    number: Mapped[str] = mapped_column(String(19), unique=True)
    type: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(12), default="active")
    #: None for an anonymous card (gift cards, unsold stock).
    member_id: Mapped[int | None] = mapped_column(ForeignKey("member.id"), index=True)
    #: The card a phone number resolves to when used as a card number.
    is_primary: Mapped[bool] = mapped_column(default=False)
    issued_store_id: Mapped[int | None] = mapped_column(ForeignKey("store.id"))
    #: argon2 hash; None when the card has no PIN.
    pin_hash: Mapped[str | None] = mapped_column(String(200))
    pin_failures: Mapped[int] = mapped_column(default=0)
    pin_locked_until: Mapped[dt.datetime | None]
    #: Period cards (and any card with a validity window) work only inside it.
    valid_from: Mapped[dt.date | None]
    valid_until: Mapped[dt.date | None]
    #: Overdraft (透支) allowed on stored value, in fen, set for this card alone (0: none);
    #: None follows the programme's rule for the card's type (the ledger's
    #: ``engine.credit_limit`` says which applies).
    credit_limit_fen: Mapped[int | None] = mapped_column(BigInteger, default=None)
    #: Gift cards can be recharged only when issued as rechargeable.
    rechargeable: Mapped[bool] = mapped_column(default=True)
    #: Set on the old card when it is replaced; the old number stops working.
    replaced_by_id: Mapped[int | None] = mapped_column(ForeignKey("card.id"))
    issued_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    member: Mapped[Member | None] = relationship()
    issued_store: Mapped[Store | None] = relationship()
    media: Mapped[list[CardMedium]] = relationship(
        back_populates="card", cascade="all, delete-orphan"
    )


class CardMedium(Base):
    """Another way to present a card: a barcode, a magstripe track, a chip UID, a QR token."""

    __tablename__ = "card_medium"
    __table_args__ = (
        CheckConstraint(f"kind IN {MEDIUM_KINDS}", name="kind"),
        UniqueConstraint("kind", "value"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("card.id"), index=True)
    kind: Mapped[str] = mapped_column(String(12))
    value: Mapped[str] = mapped_column(String(128), index=True)

    card: Mapped[Card] = relationship(back_populates="media")


class CardEvent(Base):
    """A state change, as a new row: the card's history survives replacement."""

    __tablename__ = "card_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("card.id"), index=True)
    action: Mapped[str] = mapped_column(String(24))
    from_state: Mapped[str | None] = mapped_column(String(12))
    to_state: Mapped[str] = mapped_column(String(12))
    #: API key or staff that asked for the change, e.g. ``apikey:7``.
    actor: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(String(200))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
