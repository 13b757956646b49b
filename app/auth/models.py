from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, utcnow
from app.stores.models import Store


class ApiKey(Base):
    """A store's key for the REST API. Only a SHA-256 of the secret is kept.

    Keys are 32 random bytes, so a fast hash is enough; a slow password hash
    would cost every API request tens of milliseconds for nothing.
    """

    __tablename__ = "api_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("store.id"), index=True)
    #: The first characters of the key, shown in listings to tell keys apart.
    prefix: Mapped[str] = mapped_column(String(16), index=True)
    key_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[dt.datetime | None]
    last_used_at: Mapped[dt.datetime | None]

    store: Mapped[Store] = relationship(lazy="joined")


#: The roles a staff member may hold; each is a base set of permissions (app.auth.permissions).
ROLES = ("admin", "marketer", "store_manager", "cashier")
#: Roles that work at one store: they must have a home store and see only its members.
STORE_ROLES = ("store_manager", "cashier")
STAFF_LANGUAGES = ("zh-Hans", "zh-Hant", "en")


class StaffUser(Base):
    """Someone who signs in to the admin panel. The password is kept as an argon2 hash."""

    __tablename__ = "staff_user"
    __table_args__ = (
        CheckConstraint(f"role IN ({', '.join(repr(r) for r in ROLES)})", name="role"),
        CheckConstraint(
            f"language IN ({', '.join(repr(x) for x in STAFF_LANGUAGES)})", name="language"
        ),
        CheckConstraint("failed_sign_ins >= 0", name="failed_sign_ins"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Lower case; what the staff member types to sign in.
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(8))
    role: Mapped[str] = mapped_column(String(16))
    #: The store a store manager or cashier works at (their scope); None for chain roles.
    store_id: Mapped[int | None] = mapped_column(ForeignKey("store.id"), index=True)
    active: Mapped[bool] = mapped_column(default=True)
    #: Consecutive failed sign-ins; reset by a good one. The fifth locks the account.
    failed_sign_ins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[dt.datetime | None]
    #: Part of the session's id: raised by a password change or reset and by disabling,
    #: so every session signed in before stops working.
    session_version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_sign_in_at: Mapped[dt.datetime | None]

    store: Mapped[Store | None] = relationship(lazy="joined")
    overrides: Mapped[list[StaffPermission]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", order_by="StaffPermission.permission"
    )


class StaffPermission(Base):
    """A per-user grant (``allowed``) or denial of one named permission, over the role's set."""

    __tablename__ = "staff_permission"
    __table_args__ = (UniqueConstraint("staff_id", "permission"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"))
    permission: Mapped[str] = mapped_column(String(64))
    allowed: Mapped[bool]
