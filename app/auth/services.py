"""API keys (made once, shown once, kept as a hash, revocable) and staff accounts.

Every change to a key, a staff account or a permission is written to the audit log.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from sqlalchemy import func, select, update

from app.audit.services import record
from app.auth.models import (
    ROLES,
    STAFF_LANGUAGES,
    STORE_ROLES,
    ApiKey,
    StaffPermission,
    StaffUser,
)
from app.auth.permissions import PERMISSIONS, ROLE_PERMISSIONS
from app.db import db, utcnow
from app.errors import (
    AccountLocked,
    InvalidRequest,
    NotFound,
    SignInFailed,
    Unauthorized,
)
from app.stores.models import Store
from app.stores.services import get_store

KEY_PREFIX = "lyk_"


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


#: The width of ``api_key.label``: a longer label is refused, not cut.
MAX_KEY_LABEL_CHARS = 120


def create_api_key(store: Store, label: str | None = None) -> tuple[ApiKey, str]:
    """Return the row and the secret; the secret is never stored or shown again."""
    label = (label or "").strip() or None
    if label is not None and len(label) > MAX_KEY_LABEL_CHARS:
        raise InvalidRequest(
            f"a key's label has at most {MAX_KEY_LABEL_CHARS} characters",
            field="label",
            reason="key_label_length",
        )
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(store=store, prefix=secret[:12], key_sha256=_digest(secret), label=label)
    db.session.add(key)
    db.session.flush()
    record("api_key.create", "api_key", key.prefix, after={"store": store.code, "label": label})
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
    return revoke_key(key)


def revoke_key(key: ApiKey) -> ApiKey:
    """Revoke one key (the panel names it by id: two keys may share a prefix)."""
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        record(
            "api_key.revoke",
            "api_key",
            key.prefix,
            before={"revoked": False},
            after={"revoked": True, "store": key.store.code},
        )
    db.session.flush()
    return key


def list_api_keys(store_ids: frozenset[int] | None = None) -> list[ApiKey]:
    """Every key, or only those of ``store_ids`` (a store manager's scope)."""
    query = select(ApiKey).order_by(ApiKey.id)
    if store_ids is not None:
        query = query.where(ApiKey.store_id.in_(store_ids))
    return list(db.session.scalars(query))


def get_api_key(key_id: int) -> ApiKey | None:
    return db.session.get(ApiKey, key_id)


# --- staff accounts ------------------------------------------------------------------

#: Failed sign-ins in a row that lock an account, and for how long.
MAX_FAILED_SIGN_INS = 5
LOCK_MINUTES = 15
MIN_PASSWORD_CHARS = 10
MAX_PASSWORD_CHARS = 200
USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{1,63}")


@lru_cache(maxsize=8)
def _hasher(time_cost: int, memory_kib: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=1)


def _password_hasher() -> PasswordHasher:
    cfg = current_app.config
    return _hasher(cfg["ARGON2_TIME_COST"], cfg["ARGON2_MEMORY_KIB"])


def _check_password(password: str) -> str:
    if not isinstance(password, str) or not (
        MIN_PASSWORD_CHARS <= len(password) <= MAX_PASSWORD_CHARS
    ):
        raise InvalidRequest(
            f"a password is {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters",
            field="password",
            reason="password_length",
        )
    if "\x00" in password:
        raise InvalidRequest("a password cannot hold a NUL character", field="password")
    return password


def normalise_username(username: str) -> str:
    name = (username or "").strip().lower()
    if not USERNAME.fullmatch(name):
        raise InvalidRequest(
            "a username is 2 to 64 letters, digits, dots, dashes or underscores",
            field="username",
            reason="username_format",
        )
    return name


def staff_view(staff: StaffUser) -> dict[str, object]:
    """What the audit log keeps of an account (never the password hash)."""
    return {
        "username": staff.username,
        "display_name": staff.display_name,
        "role": staff.role,
        "store": staff.store.code if staff.store else None,
        "language": staff.language,
        "active": staff.active,
    }


def _store_for_role(role: str, store_code: str | None) -> Store | None:
    if role not in ROLES:
        raise InvalidRequest(f"role must be one of {', '.join(ROLES)}", field="role")
    if role in STORE_ROLES:
        if not store_code:
            raise InvalidRequest(
                f"a {role} works at one store: name it (--store CODE)",
                field="store",
                reason="store_required",
            )
        return get_store(store_code.strip().upper())
    if store_code:
        return get_store(store_code.strip().upper())
    return None


def create_staff(
    username: str,
    password: str,
    *,
    role: str,
    store_code: str | None = None,
    display_name: str | None = None,
    language: str | None = None,
) -> StaffUser:
    name = normalise_username(username)
    store = _store_for_role(role, store_code)
    language = language or current_app.config["DEFAULT_LANGUAGE"]
    if language not in STAFF_LANGUAGES:
        raise InvalidRequest(
            f"language must be one of {', '.join(STAFF_LANGUAGES)}", field="language"
        )
    if db.session.scalar(select(StaffUser.id).where(StaffUser.username == name)):
        raise InvalidRequest(
            f"the username {name!r} is taken", field="username", reason="username_taken"
        )
    staff = StaffUser(
        username=name,
        display_name=(display_name or "").strip()[:120] or name,
        password_hash=_password_hasher().hash(_check_password(password)),
        language=language,
        role=role,
        store=store,
        active=True,
        failed_sign_ins=0,
        session_version=1,
    )
    db.session.add(staff)
    db.session.flush()
    record("staff.create", "staff", staff.username, after=staff_view(staff))
    return staff


def get_staff(username: str) -> StaffUser:
    staff = find_staff(username)
    if staff is None:
        raise NotFound(f"no staff member {username!r}", field="username")
    return staff


def find_staff(username: str) -> StaffUser | None:
    name = (username or "").strip().lower()
    if not name or len(name) > 64:
        return None
    return db.session.scalar(select(StaffUser).where(StaffUser.username == name))


def staff_by_id(staff_id: int) -> StaffUser | None:
    return db.session.get(StaffUser, staff_id)


def list_staff() -> list[StaffUser]:
    return list(db.session.scalars(select(StaffUser).order_by(StaffUser.username)))


def count_active_admins() -> int:
    return (
        db.session.scalar(
            select(func.count())
            .select_from(StaffUser)
            .where(StaffUser.role == "admin", StaffUser.active.is_(True))
        )
        or 0
    )


def authenticate_staff(
    username: str, password: str, *, now: dt.datetime | None = None
) -> StaffUser:
    """The account, or ``SignInFailed`` / ``AccountLocked`` (both ``persist``: the count stays).

    An unknown name costs the same hash as a known one, so timing tells nothing.
    """
    now = now or utcnow()
    staff = find_staff(username)
    if staff is None or not isinstance(password, str) or len(password) > MAX_PASSWORD_CHARS:
        _password_hasher().hash("a password nobody has")
        raise SignInFailed("wrong username or password")
    if staff.locked_until is not None and staff.locked_until > now:
        raise AccountLocked(
            "too many failed sign-ins; try again later",
            locked_until=staff.locked_until.isoformat(timespec="seconds"),
        )
    try:
        _password_hasher().verify(staff.password_hash, password)
    except (VerificationError, InvalidHashError):
        staff.failed_sign_ins += 1
        if staff.failed_sign_ins >= MAX_FAILED_SIGN_INS:
            staff.failed_sign_ins = 0
            staff.locked_until = now + dt.timedelta(minutes=LOCK_MINUTES)
            db.session.flush()
            record(
                "staff.lock", "staff", staff.username, after={"locked_until": staff.locked_until}
            )
            raise AccountLocked(
                f"too many failed sign-ins; the account is locked for {LOCK_MINUTES} minutes",
                locked_until=staff.locked_until.isoformat(timespec="seconds"),
            ) from None
        db.session.flush()
        raise SignInFailed("wrong username or password") from None
    if not staff.active:
        raise SignInFailed("wrong username or password")
    staff.failed_sign_ins = 0
    staff.locked_until = None
    staff.last_sign_in_at = now
    if _password_hasher().check_needs_rehash(staff.password_hash):
        staff.password_hash = _password_hasher().hash(password)
    db.session.flush()
    return staff


def change_password(staff: StaffUser, old_password: str, new_password: str) -> None:
    """The staff member's own change: the old password first. Other sessions end."""
    try:
        _password_hasher().verify(staff.password_hash, old_password or "")
    except (VerificationError, InvalidHashError):
        raise InvalidRequest(
            "the current password is wrong", field="old_password", reason="wrong_password"
        ) from None
    _set_password(staff, new_password)
    record("staff.change_password", "staff", staff.username)


def reset_password(staff: StaffUser, new_password: str) -> None:
    """An admin sets another's password (they forgot it); their sessions end, lock lifts."""
    _set_password(staff, new_password)
    staff.failed_sign_ins = 0
    staff.locked_until = None
    db.session.flush()
    record("staff.reset_password", "staff", staff.username)


def _set_password(staff: StaffUser, password: str) -> None:
    staff.password_hash = _password_hasher().hash(_check_password(password))
    staff.session_version += 1
    db.session.flush()


def disable_staff(staff: StaffUser) -> StaffUser:
    """Sign-ins stop and every session ends; the account and its audit trail stay."""
    if staff.active:
        if staff.role == "admin" and count_active_admins() <= 1:
            raise InvalidRequest("the last active admin cannot be disabled", reason="last_admin")
        staff.active = False
        staff.session_version += 1
        db.session.flush()
        record(
            "staff.disable",
            "staff",
            staff.username,
            before={"active": True},
            after={"active": False},
        )
    return staff


def set_language(staff: StaffUser, language: str) -> None:
    if language not in STAFF_LANGUAGES:
        raise InvalidRequest(
            f"language must be one of {', '.join(STAFF_LANGUAGES)}", field="language"
        )
    if staff.language != language:
        record(
            "staff.language",
            "staff",
            staff.username,
            before={"language": staff.language},
            after={"language": language},
        )
        staff.language = language
        db.session.flush()


def overrides(staff: StaffUser) -> dict[str, bool]:
    """The staff member's own grants (True) and denials (False), by permission."""
    return {o.permission: o.allowed for o in staff.overrides}


def set_overrides(staff: StaffUser, wanted: dict[str, bool]) -> None:
    """Replace the grants and denials; a grant of what the role has anyway is dropped."""
    for name in wanted:
        if name not in PERMISSIONS:
            raise InvalidRequest(f"unknown permission {name!r}", field="permission")
    base = ROLE_PERMISSIONS[staff.role]
    clean = {n: allowed for n, allowed in wanted.items() if allowed != (n in base)}
    before = overrides(staff)
    if clean == before:
        return
    # Emptied and flushed first: a name kept with the other answer is a new row, and the
    # unique (staff, permission) must not meet the old one.
    staff.overrides.clear()
    db.session.flush()
    staff.overrides.extend(
        StaffPermission(permission=n, allowed=allowed) for n, allowed in sorted(clean.items())
    )
    db.session.flush()
    record(
        "staff.permissions",
        "staff",
        staff.username,
        before=_describe(before),
        after=_describe(clean),
    )


def _describe(values: dict[str, bool]) -> dict[str, object]:
    return {
        "grants": sorted(n for n, a in values.items() if a),
        "denials": sorted(n for n, a in values.items() if not a),
    }
