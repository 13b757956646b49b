"""Writing to the outbox and switching alerts; every function only flushes.

``enqueue`` runs in the caller's transaction: the message exists if and only if
the event that caused it committed.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, and_, bindparam, delete, func, literal, select, true, update
from sqlalchemy.dialects import postgresql, sqlite

from app.audit.services import record
from app.db import db, utcnow
from app.errors import InvalidRequest
from app.members.services import check_alert_type, member_alert_switch
from app.messaging.compose import quiet_hours
from app.messaging.models import (
    ALERT_TYPES,
    KINDS,
    OUTBOX_CHANNELS,
    STATUS_RANK,
    STATUSES,
    InboundMessage,
    OutboxMessage,
    ProgrammeAlertSetting,
    QuietHoursSetting,
)

if TYPE_CHECKING:
    from app.members.models import Member


def enqueue(
    *,
    address: str,
    body: str,
    kind: str,
    language: str = "zh-Hans",
    channel: str = "sms",
    member: Member | None = None,
    dedupe_key: str | None = None,
    alert_type: str | None = None,
    opt_out_confirmation: bool = False,
    not_before: dt.datetime | None = None,
) -> int | None:
    """Queue one message and return its outbox id: the only writer of outbox rows.

    The same ``dedupe_key`` twice queues nothing new and returns the first row's id.
    A message with an ``alert_type`` is queued only while both switches are on, the
    programme's and the member's (no row means on); switched off, it returns None.
    One statement (``INSERT … SELECT … WHERE <switches> ON CONFLICT DO NOTHING``):
    alerts ride on the ledger's hot path, so no savepoint and no read-before-write.
    """
    if kind not in KINDS:
        raise InvalidRequest(f"kind must be one of {', '.join(KINDS)}", field="kind")
    if channel not in OUTBOX_CHANNELS:
        raise InvalidRequest(f"channel must be one of {', '.join(OUTBOX_CHANNELS)}")
    if alert_type is not None:
        check_alert_type(alert_type)
    if not body.strip():
        raise InvalidRequest("an empty message cannot be sent", field="body")
    key = dedupe_key or f"{kind}:{uuid.uuid4().hex}"
    now = utcnow()
    if member is not None and member.id is None:
        db.session.flush()  # a member made in this transaction needs its id first
    connection = db.session.connection()
    new_id = connection.execute(
        _ENQUEUE[connection.dialect.name],
        {
            "channel": channel,
            "address": address,
            "member_id": member.id if member is not None else None,
            "kind": kind,
            "alert_type": alert_type,
            "body": body,
            "language": language,
            "dedupe_key": key,
            "opt_out_confirmation": opt_out_confirmation,
            "next_attempt_at": not_before or now,
            "now": now,
        },
    ).scalar()
    if new_id is not None:
        return int(new_id)
    # Queued before under this key, or switched off (then there may be no row at all).
    found = connection.execute(select(_OUTBOX.c.id).where(_OUTBOX.c.dedupe_key == key)).scalar()
    return int(found) if found is not None else None


_OUTBOX = cast(Table, OutboxMessage.__table__)


def _enqueue_statement(insert: Any) -> Any:
    """INSERT INTO outbox SELECT <the message> WHERE both alert switches are on.

    Without an alert type (or member) the switch subqueries find no row, and no row
    means on: every other message is queued unconditionally.
    """
    c = _OUTBOX.c

    def value(name: str, column: Any) -> Any:
        return bindparam(name, type_=column.type)

    columns = {
        "channel": value("channel", c.channel),
        "address": value("address", c.address),
        "member_id": value("member_id", c.member_id),
        "kind": value("kind", c.kind),
        "alert_type": value("alert_type", c.alert_type),
        "body": value("body", c.body),
        "language": value("language", c.language),
        "dedupe_key": value("dedupe_key", c.dedupe_key),
        "opt_out_confirmation": value("opt_out_confirmation", c.opt_out_confirmation),
        "status": literal("queued", c.status.type),
        "attempts": literal(0, c.attempts.type),
        "next_attempt_at": value("next_attempt_at", c.next_attempt_at),
        "created_at": value("now", c.created_at),
        "updated_at": value("now", c.updated_at),
    }
    switches_on = and_(*(func.coalesce(switch, true()) for switch in _SWITCHES))
    return (
        insert(_OUTBOX)
        .from_select(list(columns), select(*columns.values()).where(switches_on))
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(c.id)
    )


#: The programme's and the member's switch for ``:alert_type`` (NULL: no row, which means on).
_SWITCHES = (
    select(ProgrammeAlertSetting.enabled)
    .where(ProgrammeAlertSetting.alert_type == bindparam("alert_type"))
    .scalar_subquery(),
    member_alert_switch(bindparam("member_id"), bindparam("alert_type")),
)

#: Built once: alerts ride on every checkout, and a reused statement keeps its compiled form.
_ENQUEUE = {
    "postgresql": _enqueue_statement(postgresql.insert),
    "sqlite": _enqueue_statement(sqlite.insert),
}


def queued_for(address: str, limit: int = 20) -> list[OutboxMessage]:
    """The newest outbox rows for one address (the simulator and ``laoyou sms simulate``)."""
    return list(
        db.session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.address == address)
            .order_by(OutboxMessage.id.desc())
            .limit(limit)
        )
    )


def messages_with(
    addresses: list[str], *, limit: int = 20
) -> tuple[list[OutboxMessage], list[InboundMessage]]:
    """The newest messages sent to and received from these addresses (a member's phone
    and openid): what the panel's member page shows, newest first."""
    if not addresses:
        return [], []
    sent = db.session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.address.in_(addresses))
        .order_by(OutboxMessage.id.desc())
        .limit(limit)
    )
    received = db.session.scalars(
        select(InboundMessage)
        .where(InboundMessage.sender.in_(addresses))
        .order_by(InboundMessage.id.desc())
        .limit(limit)
    )
    return list(sent), list(received)


def last_outbox_id() -> int:
    """The newest outbox row's id (0 for none): ``queued_after`` it is what came since."""
    return db.session.scalar(select(func.max(OutboxMessage.id))) or 0


def queued_after(outbox_id: int) -> list[OutboxMessage]:
    """Every outbox row, to any address, added after ``outbox_id`` (oldest first)."""
    return list(
        db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.id > outbox_id).order_by(OutboxMessage.id)
        )
    )


def outbox_depth() -> dict[str, int]:
    """How many outbox rows are in each status (every status named, 0 included): /metrics."""
    counts = dict.fromkeys(STATUSES, 0)
    for status, count in db.session.execute(
        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
    ):
        counts[status] = count
    return counts


def oldest_due_at(now: dt.datetime) -> dt.datetime | None:
    """Since when the longest-waiting unsent message has been due (None: nothing is due).

    Due means what the dispatcher would claim now: queued and past its next attempt, or
    claimed by a dispatcher whose lease ran out before the provider answered. Both read
    the dispatcher's index (status, next_attempt_at) or a handful of ``sending`` rows.
    """
    queued = db.session.scalar(
        select(func.min(OutboxMessage.next_attempt_at)).where(
            OutboxMessage.status == "queued", OutboxMessage.next_attempt_at <= now
        )
    )
    abandoned = db.session.scalar(
        select(func.min(OutboxMessage.lease_until)).where(
            OutboxMessage.status == "sending",
            OutboxMessage.provider_id.is_(None),
            OutboxMessage.lease_until < now,
        )
    )
    moments = [_aware(m) for m in (queued, abandoned) if m is not None]
    return min(moments) if moments else None


def _aware(moment: dt.datetime) -> dt.datetime:
    # An aggregate's result skips the column type: SQLite hands back a naive UTC datetime.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def set_programme_alert(alert_type: str, enabled: bool) -> None:
    """The admin switches an alert type for the whole programme."""
    check_alert_type(alert_type)
    row = db.session.get(ProgrammeAlertSetting, alert_type)
    was = True if row is None else row.enabled
    if row is None:
        db.session.add(ProgrammeAlertSetting(alert_type=alert_type, enabled=enabled))
    else:
        row.enabled = enabled
        row.changed_at = utcnow()
    db.session.flush()
    if was != enabled:
        record(
            "alerts.programme",
            "alert_type",
            alert_type,
            before={"enabled": was},
            after={"enabled": enabled},
        )


def programme_alerts() -> dict[str, bool]:
    settings = dict.fromkeys(ALERT_TYPES, True)
    for row in db.session.scalars(select(ProgrammeAlertSetting)):
        settings[row.alert_type] = row.enabled
    return settings


#: A time of day as the quiet hours take it: 24-hour, two digits each.
_HHMM = re.compile(r"(?:[01]\d|2[0-3]):[0-5]\d")
#: How the rules document and the panel say "no quiet hours at all".
QUIET_OFF = "off"


def check_quiet_hours(value: Any, path: str = "quiet_hours") -> tuple[str, str] | None:
    """``{"start": "21:00", "end": "09:00"}`` as a pair, or ``"off"`` as None.

    The start may be after the end (the hours span midnight); equal times are refused,
    since they could mean "all day" as well as "never": "off" says which. Raises
    ``InvalidRequest`` naming the field (``quiet_hours.end``).
    """
    if value == QUIET_OFF:
        return None
    if not isinstance(value, dict):
        raise InvalidRequest(f'{path} must be "off" or an object with start and end', field=path)
    unknown = sorted(set(value) - {"start", "end"})
    if unknown:
        raise InvalidRequest(
            f"{path}.{unknown[0]} is not a known field", field=f"{path}.{unknown[0]}"
        )
    times = []
    for key in ("start", "end"):
        raw = value.get(key)
        if not isinstance(raw, str) or not _HHMM.fullmatch(raw):
            raise InvalidRequest(
                f"{path}.{key} must be a time HH:MM from 00:00 to 23:59", field=f"{path}.{key}"
            )
        times.append(raw)
    if times[0] == times[1]:
        raise InvalidRequest(
            f'{path}.end must differ from the start (for no quiet hours, say "off")',
            field=f"{path}.end",
        )
    return times[0], times[1]


def saved_quiet_hours() -> dict[str, str] | str | None:
    """The quiet hours the programme saved, as the rules document writes them; None while
    the service's settings apply (nothing saved)."""
    row = db.session.get(QuietHoursSetting, 1)
    if row is None:
        return None
    if row.start_hhmm is None or row.end_hhmm is None:
        return QUIET_OFF
    return {"start": row.start_hhmm, "end": row.end_hhmm}


def _quiet_text(hours: tuple[str, str] | None) -> str:
    return QUIET_OFF if hours is None else f"{hours[0]}-{hours[1]}"


def set_quiet_hours(hours: tuple[str, str] | None, *, audited: bool = True) -> None:
    """Save the programme's quiet hours (None: none at all); the next send obeys them.

    ``hours`` is what ``check_quiet_hours`` returns. Audited as ``quiet_hours.update``
    with the hours in force before and after, unless the caller audits the change itself
    (the rules import records the whole document's changes once).
    """
    if hours is not None and not (_HHMM.fullmatch(hours[0]) and _HHMM.fullmatch(hours[1])):
        raise InvalidRequest("quiet hours must be HH:MM", field="quiet_hours")
    was = quiet_hours()
    row = db.session.get(QuietHoursSetting, 1)
    if row is None:
        row = QuietHoursSetting(id=1)
        db.session.add(row)
    row.start_hhmm, row.end_hhmm = hours if hours is not None else (None, None)
    row.changed_at = utcnow()
    db.session.flush()
    if audited and was != hours:
        record(
            "quiet_hours.update",
            "quiet_hours",
            "programme",
            before={"quiet_hours": _quiet_text(was)},
            after={"quiet_hours": _quiet_text(hours)},
        )


def forget_quiet_hours() -> None:
    """Back to the service's ``QUIET_HOURS_*`` settings (a rules document without quiet
    hours); not audited on its own: only the rules import calls it, and audits the change."""
    row = db.session.get(QuietHoursSetting, 1)
    if row is not None:
        db.session.delete(row)
        db.session.flush()


#: Twilio's message statuses as ours; anything else (received, …) is not about an outbound one.
PROVIDER_STATUSES = {
    "accepted": "sending",
    "scheduled": "sending",
    "queued": "sending",
    "sending": "sending",
    "sent": "sent",
    "delivered": "delivered",
    "read": "delivered",
    "partially_delivered": "delivered",
    "undelivered": "undelivered",
    "failed": "failed",
    "canceled": "failed",
}


def record_delivery_status(
    provider_id: str,
    provider_status: str,
    *,
    outbox_id: int | None = None,
    error_code: str | None = None,
) -> OutboxMessage | None:
    """Apply a provider's status callback; statuses only move forward. None: not ours."""
    status = PROVIDER_STATUSES.get(provider_status)
    if status is None:
        return None
    row = db.session.scalar(
        select(OutboxMessage).where(OutboxMessage.provider_id == provider_id).with_for_update()
    )
    if row is None and outbox_id is not None:
        # The provider accepted a message whose answer we never got (a timeout, a
        # killed dispatcher): the callback names it, and records the sid so it is not re-sent.
        row = db.session.scalar(
            select(OutboxMessage)
            .where(OutboxMessage.id == outbox_id, OutboxMessage.provider_id.is_(None))
            .with_for_update()
        )
        if row is not None:
            row.provider_id = provider_id
            row.lease_until = None
    if row is None:
        return None
    if STATUS_RANK[status] > STATUS_RANK[row.status]:
        row.status = status
        if error_code and status in ("undelivered", "failed"):
            row.last_error = f"provider error {error_code}"[:300]
    db.session.flush()
    return row


# --- housekeeping (the messaging jobs) --------------------------------------------------


def purge_inbound(before: dt.datetime) -> int:
    """Delete inbound messages received before ``before``; returns how many. Flushes.

    A row exists to make a provider's retry of the same message a replay (Twilio and
    WeChat retry within minutes) and to show a member's recent messages in the panel;
    after ``PURGE_INBOUND_AFTER_DAYS`` it only keeps members' words longer than needed.
    """
    result = db.session.execute(delete(InboundMessage).where(InboundMessage.received_at < before))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def requeue_abandoned(now: dt.datetime) -> int:
    """Messages a dispatcher claimed and then died with (``sending``, no provider id, lease
    over) go back to ``queued``, due now; returns how many. Flushes.

    A running dispatcher re-claims such rows itself; the sweep makes them show as waiting
    (the panel, the reports) when none runs, and logs that they were stuck.
    """
    result = db.session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.status == "sending",
            OutboxMessage.provider_id.is_(None),
            OutboxMessage.lease_until < now,
        )
        .values(status="queued", lease_until=None, next_attempt_at=now, updated_at=now)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
