from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.auth.models import StaffUser
from app.db import Base, utcnow

STATUSES = ("pending", "approved", "rejected")


class ApprovalRequest(Base):
    """A change asked for and not yet made; its status moves once, from ``pending``."""

    __tablename__ = "approval_request"
    __table_args__ = (
        CheckConstraint(f"status IN ({', '.join(repr(s) for s in STATUSES)})", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: What is asked, e.g. ``balance_adjustment``; the owning package applies it.
    kind: Mapped[str] = mapped_column(String(32), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: The store the request is about (a store manager sees their store's), if any.
    store_id: Mapped[int | None] = mapped_column(ForeignKey("store.id"), index=True)
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"))
    requested_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(8), default="pending", index=True)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    decided_at: Mapped[dt.datetime | None]
    #: Why it was rejected, or what approving it did (e.g. the ledger transaction's id).
    outcome: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    requested_by: Mapped[StaffUser] = relationship(foreign_keys=[requested_by_id], lazy="joined")
    decided_by: Mapped[StaffUser | None] = relationship(foreign_keys=[decided_by_id], lazy="joined")
