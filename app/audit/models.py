from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, utcnow

ACTOR_KINDS = ("staff", "api_key", "cli", "system")


class AuditEntry(Base):
    """One change, append-only. ``before`` / ``after`` hold only the fields that matter."""

    __tablename__ = "audit_entry"
    __table_args__ = (
        CheckConstraint(
            f"actor_kind IN ({', '.join(repr(k) for k in ACTOR_KINDS)})", name="actor_kind"
        ),
        Index("ix_audit_entry_object", "object_type", "object_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    actor_kind: Mapped[str] = mapped_column(String(8))
    #: The staff member's username, the API key's prefix, or ``cli:<OS user>``'s user.
    actor: Mapped[str] = mapped_column(String(120), index=True)
    #: ``<subject>.<verb>``, e.g. ``staff.create``, ``card.freeze``, ``balance.adjust``.
    action: Mapped[str] = mapped_column(String(64), index=True)
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str] = mapped_column(String(64))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
