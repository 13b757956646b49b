from __future__ import annotations

import datetime as dt

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, utcnow


class Store(Base):
    """A shop of the chain. Regions are plain names: a chain rarely has more than a few."""

    __tablename__ = "store"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Short code used by staff, API keys and the CLI, e.g. ``SH01``.
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    region: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
