"""Record changes and read them back. ``record`` only adds a row to the caller's transaction."""

from __future__ import annotations

import csv
import datetime as dt
import getpass
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from flask import g, has_app_context, has_request_context
from sqlalchemy import Select, func, or_, select

from app.audit.models import ACTOR_KINDS, AuditEntry
from app.db import db
from app.signals import card_state_changed, member_changed

#: Rows of one page of the audit log.
PAGE_SIZE = 50
#: Most rows one CSV export holds; narrow the filter for more.
EXPORT_LIMIT = 100_000


@dataclass(frozen=True)
class Actor:
    kind: str
    name: str


def set_actor(kind: str, name: str) -> None:
    """The boundary names who is acting for the rest of the request or command."""
    if kind not in ACTOR_KINDS:
        raise ValueError(f"unknown actor kind {kind!r}")
    g.audit_actor = Actor(kind, name)


def current_actor() -> Actor:
    """Whoever the boundary named; a command without one is the CLI as the OS user.

    A request that named no one (a member's SMS, a WeChat event) is the system acting
    on the member's behalf.
    """
    actor = g.get("audit_actor") if has_app_context() else None
    if actor is not None:
        return actor  # type: ignore[no-any-return]
    if has_request_context():
        return Actor("system", "system")
    return Actor("cli", _os_user())


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (a container's arbitrary uid)
        return "unknown"


def record(
    action: str,
    object_type: str,
    object_id: object,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    actor: Actor | None = None,
) -> AuditEntry:
    who = actor or current_actor()
    entry = AuditEntry(
        actor_kind=who.kind,
        actor=who.name[:120],
        action=action,
        object_type=object_type,
        object_id=str(object_id)[:64],
        before=_jsonable(before),
        after=_jsonable(after),
    )
    db.session.add(entry)
    db.session.flush()
    return entry


def _jsonable(value: dict[str, Any] | None) -> dict[str, Any] | None:
    """Dates and other plain values as text, so every backend stores the same JSON."""
    if value is None:
        return None
    return {
        k: v if v is None or isinstance(v, (str, int, float, bool, list, dict)) else str(v)
        for k, v in value.items()
    }


@dataclass(frozen=True)
class AuditFilter:
    actor: str = ""
    action: str = ""
    #: ``type`` or ``type:id`` (``member:12``, ``card:8800…``), or an id alone.
    object: str = ""
    date_from: dt.datetime | None = None
    #: Exclusive.
    date_to: dt.datetime | None = None


def _query(f: AuditFilter) -> Select[AuditEntry]:
    query = select(AuditEntry)
    if f.actor:
        query = query.where(AuditEntry.actor.contains(f.actor, autoescape=True))
    if f.action:
        query = query.where(AuditEntry.action.startswith(f.action, autoescape=True))
    if f.object:
        kind, sep, ident = f.object.partition(":")
        if sep:
            query = query.where(AuditEntry.object_type == kind, AuditEntry.object_id == ident)
        else:
            query = query.where(
                or_(AuditEntry.object_type == f.object, AuditEntry.object_id == f.object)
            )
    if f.date_from is not None:
        query = query.where(AuditEntry.at >= f.date_from)
    if f.date_to is not None:
        query = query.where(AuditEntry.at < f.date_to)
    return query


def search(f: AuditFilter, *, page: int = 1) -> tuple[list[AuditEntry], int]:
    """One page (newest first) and the number of entries that match."""
    query = _query(f)
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = db.session.scalars(
        query.order_by(AuditEntry.id.desc()).limit(PAGE_SIZE).offset((max(page, 1) - 1) * PAGE_SIZE)
    )
    return list(rows), total


def entries(f: AuditFilter) -> Iterator[AuditEntry]:
    """Every matching entry, oldest first (an export), at most ``EXPORT_LIMIT``."""
    query = _query(f).order_by(AuditEntry.id).limit(EXPORT_LIMIT)
    yield from db.session.scalars(query.execution_options(yield_per=500))


CSV_HEADER = (
    "id",
    "at_utc",
    "actor_kind",
    "actor",
    "action",
    "object_type",
    "object_id",
    "before",
    "after",
)


def csv_lines(rows: Iterable[AuditEntry]) -> Iterator[str]:
    """The CSV export, one line at a time (streamed to the browser)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(values: Iterable[object]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(values)
        return buffer.getvalue()

    yield "\ufeff" + line(CSV_HEADER)  # a BOM: spreadsheet programs then read UTF-8
    for e in rows:
        yield line(
            (
                e.id,
                e.at.astimezone(dt.UTC).isoformat(timespec="seconds"),
                e.actor_kind,
                _safe_cell(e.actor),
                e.action,
                e.object_type,
                _safe_cell(e.object_id),
                "" if e.before is None else json.dumps(e.before, ensure_ascii=False),
                "" if e.after is None else json.dumps(e.after, ensure_ascii=False),
            )
        )


def _safe_cell(text: str) -> str:
    """A cell a spreadsheet would run as a formula starts with a quote instead."""
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


# --- receivers: changes other packages announce -----------------------------------


def _on_member_changed(member: Any, **kw: Any) -> None:
    record(
        f"member.{kw['action']}", "member", member.id, before=kw.get("before"), after=kw["after"]
    )


def _on_card_state_changed(card: Any, **kw: Any) -> None:
    after: dict[str, Any] = {"state": kw["to_state"]}
    if kw.get("new_card") is not None:
        after["new_card"] = kw["new_card"].number
    if kw.get("reason"):
        after["reason"] = kw["reason"]
    record(
        f"card.{kw['action']}", "card", card.number, before={"state": kw["from_state"]}, after=after
    )


def connect_signals() -> None:
    member_changed.connect(_on_member_changed)
    card_state_changed.connect(_on_card_state_changed)
