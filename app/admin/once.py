"""One-time form keys: the first request with a key acts, a second one replays its outcome.

The key is claimed by inserting its row before acting, in the request's transaction: a
second request with the same key waits on the unique key until the first commits (or
rolls back, freeing it), then finds it taken.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from app.admin.models import FormKey
from app.db import db

_KEY = re.compile(r"[A-Za-z0-9]{16,64}")


def form_key() -> str:
    """A new key for a form being rendered."""
    return uuid.uuid4().hex


def clean_key(text: str | None) -> str:
    """The form's key, or a fresh one when it has none (or garbage): it then acts once."""
    text = (text or "").strip()
    return text if _KEY.fullmatch(text) else form_key()


def claim(key: str, staff_username: str, action: str) -> FormKey | None:
    """Claim ``key`` for this action; None when it is new (act now), else the earlier claim.

    An earlier claim of another staff member or another action is not replayed: it is
    returned with ``outcome`` None, and the caller refuses the form.
    """
    try:
        with db.session.begin_nested():
            db.session.add(FormKey(key=key, staff_username=staff_username, action=action))
    except IntegrityError:
        earlier = db.session.get(FormKey, key)
        assert earlier is not None
        if earlier.staff_username != staff_username or earlier.action != action:
            return FormKey(key=key, staff_username=staff_username, action=action, outcome=None)
        return earlier
    return None


def settle(key: str, outcome: dict[str, Any]) -> None:
    """Keep what the claimed action did, for a replay."""
    found = db.session.get(FormKey, key)
    if found is not None:
        found.outcome = outcome
        db.session.flush()


def outcome_of(key: str, staff_username: str) -> dict[str, Any] | None:
    found = db.session.get(FormKey, key) if _KEY.fullmatch(key or "") else None
    if found is None or found.staff_username != staff_username:
        return None
    return found.outcome


def purge_keys(before: dt.datetime) -> int:
    """Delete form keys made before ``before``; returns how many. Flushes.

    A key matters while its page may still be sent again (a double click, a reload, the
    back button): after a day it only grows the table.
    """
    result = db.session.execute(delete(FormKey).where(FormKey.created_at < before))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
