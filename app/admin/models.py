"""The panel's own table: the one-time key of each acting form, so a double submit acts once."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, utcnow


class FormKey(Base):
    """A form's one-time key, claimed by the first request that carries it.

    The same form sent again finds the key taken and shows what the first one did
    (``outcome``) instead of acting twice.
    """

    __tablename__ = "admin_form_key"

    #: Random, put in the form when the page was rendered.
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: Who sent it: a key is never replayed to another staff member.
    staff_username: Mapped[str] = mapped_column(String(64))
    #: The action, e.g. ``card.freeze``: a key is never replayed for another action.
    action: Mapped[str] = mapped_column(String(32))
    #: What the action did, as the page shows it (the new card's number, the refund…).
    outcome: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
