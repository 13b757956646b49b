"""Broadcasts (群发): a marketing text to a segment by SMS and / or WeChat, now or at a time.

Life of a broadcast: ``create_broadcast`` (``scheduled``, due at ``send_at``; "now" is due
at once) → ``queue_broadcast`` (by the ``broadcasts_due`` job, or ``laoyou broadcast
queue``) takes the snapshot and fills the outbox → ``queued``; ``cancel_broadcast`` at any
point before or after stops what has not left (``cancelled``).

Queueing a million members stays in bounded memory: the snapshot (who is targeted, who is
skipped and why) is one ``INSERT … SELECT`` into ``broadcast_recipient``, then the targeted
rows are read back in keyset pages of ``PAGE`` (by member id), and each page is rendered per
member and written to the outbox at once (``messaging.services.enqueue_many``: a COPY on
PostgreSQL). Opt-outs
are read when the snapshot is taken and again by the dispatcher at send time; quiet hours
hold the rows until they end (``not_before``) and the dispatcher checks them again; the
【signature】 and the unsubscribe line are added by the dispatcher (``compose.render``).
"""

from __future__ import annotations

import datetime as dt
import string
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, case, func, insert, literal, select, text

from app import clock
from app.audit.services import record
from app.campaigns.models import (
    BROADCAST_CHANNELS,
    Broadcast,
    BroadcastRecipient,
    Segment,
)
from app.campaigns.outbox import outbox
from app.campaigns.segments import get_segment, parse_definition, segment_condition
from app.cards.models import Card
from app.db import db, utcnow
from app.errors import InvalidRequest, NotFound
from app.i18n import render
from app.ledger.models import Account
from app.members.models import Level, Member, WechatBinding
from app.stores.models import Store

LANGUAGES = ("zh-Hans", "zh-Hant", "en")
PLACEHOLDERS = ("name", "points", "level", "store")
MAX_TITLE = 200
#: Longer than one SMS on purpose (a long SMS is several parts), but not a letter.
MAX_TEXT = 500
#: How far ahead a broadcast may be scheduled.
MAX_AHEAD = dt.timedelta(days=366)
#: Members rendered and queued per statement: memory is bounded by this, not by the segment.
PAGE = 5000


def N_(msgid: str) -> str:  # the marker pybabel extracts; translated when rendered
    return msgid


#: What {name} becomes for a member who gave none.
NO_NAME = N_("member")

_RECIPIENTS = cast(Table, BroadcastRecipient.__table__)


def check_text(text: Any, where: str) -> str:
    """A broadcast text: its placeholders must be exactly ``{name}`` and the like."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidRequest(f"{where}: the text is empty", field=where)
    if len(text) > MAX_TEXT or "\x00" in text:
        raise InvalidRequest(f"{where}: at most {MAX_TEXT} characters", field=where)
    try:
        parts = list(string.Formatter().parse(text))
    except ValueError:
        raise InvalidRequest(
            f"{where}: a lone {{ or }} (write {{{{ or }}}} for the character)", field=where
        ) from None
    for _literal, name, spec, conversion in parts:
        if name is None:
            continue
        if name not in PLACEHOLDERS or spec or conversion:
            raise InvalidRequest(
                f"{where}: unknown placeholder {{{name}}} (use "
                + ", ".join(f"{{{p}}}" for p in PLACEHOLDERS)
                + ")",
                field=where,
            )
    return text.strip()


def check_texts(texts: Any) -> dict[str, str]:
    if not isinstance(texts, dict):
        raise InvalidRequest("texts: one text per language", field="texts")
    unknown = set(texts) - set(LANGUAGES)
    if unknown:
        raise InvalidRequest(f"texts: unknown language {sorted(unknown)[0]!r}", field="texts")
    out = {
        language: check_text(text, f"texts.{language}")
        for language, text in texts.items()
        if isinstance(text, str) and text.strip()
    }
    if not out:
        raise InvalidRequest("texts: write the message in at least one language", field="texts")
    return out


def text_for(texts: dict[str, str], language: str) -> tuple[str, str]:
    """The text a member reads and its language: theirs, else Simplified Chinese, else any."""
    for candidate in (language, "zh-Hans", *LANGUAGES):
        if candidate in texts:
            return texts[candidate], candidate
    raise InvalidRequest("the broadcast has no text")


def render_text(template: str, values: dict[str, Any]) -> str:
    """The member's text: the template (checked by ``check_text``) with their values."""
    return template.format(**values)


def create_broadcast(
    *,
    title: str,
    segment_id: int | None,
    channels: str,
    texts: Any,
    send_at: dt.datetime | None,
    created_by: str,
) -> Broadcast:
    """A broadcast, due at ``send_at`` (None: now). Everything is checked before it is kept."""
    title = title.strip() if isinstance(title, str) else ""
    if not title or len(title) > MAX_TITLE or "\x00" in title:
        raise InvalidRequest(f"a title of at most {MAX_TITLE} characters", field="title")
    if channels not in BROADCAST_CHANNELS:
        raise InvalidRequest(f"channels: one of {', '.join(BROADCAST_CHANNELS)}", field="channels")
    checked = check_texts(texts)
    now = clock.now()
    if send_at is None:
        send_at = now
    elif send_at.tzinfo is None:
        raise InvalidRequest("send_at needs a time zone", field="send_at")
    if send_at < now - dt.timedelta(minutes=5):
        raise InvalidRequest("send_at is in the past", field="send_at")
    if send_at > now + MAX_AHEAD:
        raise InvalidRequest("send_at is more than a year ahead", field="send_at")
    segment: Segment | None = get_segment(segment_id) if segment_id is not None else None
    definition = parse_definition(segment.definition if segment else {"all": []})
    broadcast = Broadcast(
        title=title,
        segment_id=segment.id if segment else None,
        definition=definition,
        channels=channels,
        texts=checked,
        status="scheduled",
        send_at=send_at,
        created_by=created_by[:64],
    )
    db.session.add(broadcast)
    db.session.flush()
    record(
        "broadcast.create",
        "broadcast",
        broadcast.id,
        after={"title": title, "segment_id": broadcast.segment_id, "channels": channels},
    )
    return broadcast


def get_broadcast(broadcast_id: int, *, lock: bool = False) -> Broadcast:
    query = select(Broadcast).where(Broadcast.id == broadcast_id)
    if lock:
        query = query.with_for_update()
    broadcast = db.session.scalar(query)
    if broadcast is None:
        raise NotFound("no such broadcast", broadcast_id=broadcast_id)
    return broadcast


def list_broadcasts(limit: int = 100) -> list[Broadcast]:
    return list(
        db.session.scalars(select(Broadcast).order_by(Broadcast.send_at.desc()).limit(limit))
    )


def due_broadcasts(now: dt.datetime) -> list[int]:
    """Scheduled broadcasts whose time has come (and any whose queueing was interrupted)."""
    return list(
        db.session.scalars(
            select(Broadcast.id)
            .where(Broadcast.status.in_(("scheduled", "queuing")), Broadcast.send_at <= now)
            .order_by(Broadcast.send_at, Broadcast.id)
        )
    )


def cancel_broadcast(broadcast_id: int) -> int:
    """Cancel before or while sending: returns how many waiting messages were stopped."""
    broadcast = get_broadcast(broadcast_id, lock=True)
    if broadcast.status == "cancelled":
        return 0
    stopped = outbox().cancel_broadcast_messages(broadcast.id)
    before = broadcast.status
    broadcast.status = "cancelled"
    broadcast.cancelled_at = utcnow()
    db.session.flush()
    record(
        "broadcast.cancel",
        "broadcast",
        broadcast.id,
        before={"status": before},
        after={"status": "cancelled", "stopped": stopped},
    )
    return stopped


# --- queueing -------------------------------------------------------------------------------


def _snapshot(broadcast: Broadcast) -> Any:
    """INSERT … SELECT of every member of the segment: channel, address, skipped and why."""
    openid = WechatBinding.openid
    if broadcast.channels == "sms":
        channel: Any = literal("sms")
        address: Any = Member.phone
        skipped: Any = case((Member.sms_opt_out.is_(True), "opted_out"), else_=None)
    elif broadcast.channels == "wechat":
        channel = literal("wechat")
        address = func.coalesce(openid, "")
        skipped = case(
            (openid.is_(None), "no_wechat"),
            (Member.wechat_opt_out.is_(True), "opted_out"),
            else_=None,
        )
    else:
        by_wechat = (openid.is_not(None)) & (Member.wechat_opt_out.is_(False))
        channel = case((by_wechat, "wechat"), else_="sms")
        address = case((by_wechat, openid), else_=Member.phone)
        skipped = case((by_wechat, None), (Member.sms_opt_out.is_(True), "opted_out"), else_=None)
    query = (
        select(literal(broadcast.id), Member.id, channel, address, skipped)
        .select_from(Member)
        .outerjoin(WechatBinding, WechatBinding.member_id == Member.id)
        .where(segment_condition(broadcast.definition))
    )
    return insert(_RECIPIENTS).from_select(
        ["broadcast_id", "member_id", "channel", "address", "skipped"], query
    )


@dataclass
class QueueResult:
    targeted: int = 0
    skipped: int = 0
    queued: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"targeted": self.targeted, "skipped": self.skipped, "queued": self.queued}


def queue_broadcast(broadcast_id: int, *, page: int = PAGE) -> QueueResult:
    """Take the snapshot and queue every targeted member's message; once per broadcast.

    The broadcast row is locked for the run, so two runners (two hosts, a job and a
    command) queue it once: the second finds it ``queued`` (or ``cancelled``) and does
    nothing. One unit of work: a failure leaves it ``scheduled`` for the next run.
    """
    broadcast = get_broadcast(broadcast_id, lock=True)
    if broadcast.status not in ("scheduled", "queuing"):
        return QueueResult()
    broadcast.status = "queuing"
    connection = db.session.connection()
    already = connection.execute(
        select(func.count()).where(_RECIPIENTS.c.broadcast_id == broadcast.id)
    ).scalar()
    if not already:
        connection.execute(_snapshot(broadcast))
        if connection.dialect.name == "postgresql":
            # A million fresh rows the planner has not seen: without statistics it reads
            # each page by scanning and sorting the whole snapshot instead of the key.
            connection.execute(text("ANALYZE broadcast_recipient"))
    counts = dict(
        connection.execute(
            select(_RECIPIENTS.c.skipped.is_(None), func.count())
            .where(_RECIPIENTS.c.broadcast_id == broadcast.id)
            .group_by(_RECIPIENTS.c.skipped.is_(None))
        ).all()
    )
    result = QueueResult(targeted=int(counts.get(True, 0)), skipped=int(counts.get(False, 0)))
    not_before = outbox().quiet_until(clock.now())
    # Everything a message needs but the member's own fields, looked up once: a page is
    # rendered in a tight loop (a million members are a million turns of it).
    level_names = {
        (level.id, language): level.name_in(language)
        for level in db.session.scalars(select(Level))
        for language in LANGUAGES
    }
    stores = {int(i): str(n) for i, n in db.session.execute(select(Store.id, Store.name))}
    no_name = {language: render(language, NO_NAME, {}) for language in LANGUAGES}
    templates = {language: text_for(broadcast.texts, language) for language in LANGUAGES}
    after = 0
    while True:
        rows = connection.execute(
            select(
                _RECIPIENTS.c.member_id,
                _RECIPIENTS.c.channel,
                _RECIPIENTS.c.address,
                Member.name,
                Member.language,
                Member.level_id,
                Member.home_store_id,
                _points_of(_RECIPIENTS.c.member_id),
            )
            .join(Member, Member.id == _RECIPIENTS.c.member_id)
            .where(
                _RECIPIENTS.c.broadcast_id == broadcast.id,
                _RECIPIENTS.c.skipped.is_(None),
                _RECIPIENTS.c.member_id > after,
            )
            .order_by(_RECIPIENTS.c.member_id)
            .limit(page)
        ).all()
        if not rows:
            break
        prefix = f"broadcast:{broadcast.id}:"
        messages = []
        for member_id, channel, address, name, member_language, level_id, store_id, points in rows:
            template, language = templates[member_language]
            body = template.format(
                name=name or no_name[language],
                points=points,
                level=level_names.get((level_id, language), ""),
                store=stores.get(store_id, ""),
            )
            messages.append(
                (channel, address, member_id, body, language, f"{prefix}{member_id}:{channel}")
            )
        outbox().enqueue_many(messages, broadcast_id=broadcast.id, not_before=not_before)
        result.queued += len(messages)
        after = rows[-1][0]
        if len(rows) < page:
            break
    broadcast.status = "queued"
    broadcast.queued_at = utcnow()
    broadcast.targeted = result.targeted
    broadcast.skipped = result.skipped
    broadcast.queued = result.queued
    db.session.flush()
    return result


def _points_of(member_id: Any) -> Any:
    """The member's points over all their cards (the card's and account's indexes, per row:
    no list of ids in the query)."""
    return (
        select(func.coalesce(func.sum(Account.balance), 0))
        .select_from(Card)
        .join(Account, Account.card_id == Card.id)
        .where(Card.member_id == member_id, Account.asset == "points")
        .scalar_subquery()
        .label("points")
    )


# --- what the panel shows ---------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    targeted: int
    #: Reason -> members skipped for it.
    skipped: dict[str, int]
    queued: int
    #: Outbox status -> messages (delivery counts: sent, delivered, failed, suppressed…).
    messages: dict[str, int]


def broadcast_progress(broadcast: Broadcast) -> Progress:
    rows = db.session.execute(
        select(_RECIPIENTS.c.skipped, func.count())
        .where(_RECIPIENTS.c.broadcast_id == broadcast.id)
        .group_by(_RECIPIENTS.c.skipped)
    ).all()
    skipped = {reason: int(count) for reason, count in rows if reason is not None}
    targeted = sum(int(count) for reason, count in rows if reason is None)
    messages = outbox().broadcast_message_counts(broadcast.id)
    return Progress(targeted, skipped, sum(messages.values()), messages)


@dataclass(frozen=True)
class PreviewText:
    language: str
    text: str


def preview_texts(texts: Any, sample: dict[str, Any] | None = None) -> list[PreviewText]:
    """Each language's text as a member would read it (before the signature and the
    unsubscribe line, which the dispatcher adds), with a sample member's values."""
    checked = check_texts(texts)
    values = sample or {"name": "王小明", "points": 1280, "level": "Gold", "store": "静安店"}
    return [
        PreviewText(language, render_text(checked[language], values))
        for language in LANGUAGES
        if language in checked
    ]


def recipients_page(
    broadcast_id: int, *, skipped_only: bool = False, limit: int = 50
) -> list[tuple[int, str, str | None]]:
    """The first recipients of the snapshot: (member id, channel, skipped reason)."""
    query = (
        select(_RECIPIENTS.c.member_id, _RECIPIENTS.c.channel, _RECIPIENTS.c.skipped)
        .where(_RECIPIENTS.c.broadcast_id == broadcast_id)
        .order_by(_RECIPIENTS.c.member_id)
        .limit(limit)
    )
    if skipped_only:
        query = query.where(_RECIPIENTS.c.skipped.is_not(None))
    return [(int(m), c, s) for m, c, s in db.session.execute(query)]
