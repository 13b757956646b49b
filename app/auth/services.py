"""API keys: made once, shown once, kept as a hash, revocable."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import select, update

from app.auth.models import ApiKey
from app.db import db, utcnow
from app.errors import NotFound, Unauthorized
from app.stores.models import Store

KEY_PREFIX = "lyk_"


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_api_key(store: Store, label: str | None = None) -> tuple[ApiKey, str]:
    """Return the row and the secret; the secret is never stored or shown again."""
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(store=store, prefix=secret[:12], key_sha256=_digest(secret), label=label)
    db.session.add(key)
    db.session.flush()
    return key, secret


def authenticate(secret: str) -> ApiKey:
    if not secret or not secret.startswith(KEY_PREFIX) or len(secret) > 200:
        raise Unauthorized("a valid API key is required: Authorization: Bearer <key>")
    key = db.session.scalar(select(ApiKey).where(ApiKey.key_sha256 == _digest(secret)))
    if key is None:
        raise Unauthorized("unknown API key")
    if key.revoked_at is not None:
        raise Unauthorized("this API key has been revoked")
    return key


def record_key_use(key_id: int, at: dt.datetime) -> None:
    """Note when a key was last used: one UPDATE by id, no read (it runs at the request's end)."""
    db.session.execute(update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=at))


def revoke_api_key(prefix: str) -> ApiKey:
    key = db.session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
    if key is None:
        raise NotFound(f"no API key starts with {prefix!r}")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
    db.session.flush()
    return key


def list_api_keys() -> list[ApiKey]:
    return list(db.session.scalars(select(ApiKey).order_by(ApiKey.id)))
