from __future__ import annotations

import datetime as dt

from sqlalchemy import String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, utcnow


class MessageText(Base):
    """The shop's wording of one msgid in one language, used instead of the catalogue's."""

    __tablename__ = "message_text"
    __table_args__ = (UniqueConstraint("msgid_key", "language"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: A short digest of the msgid: msgids are long, and a URL and a unique index want a key.
    msgid_key: Mapped[str] = mapped_column(String(16))
    msgid: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(8))
    text: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    updated_by: Mapped[str] = mapped_column(String(120))
