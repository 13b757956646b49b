"""Growth (成长值) and levels: automatic upgrades, refund reversal, the yearly review.

Growth is a per-member counter (``member_growth``) with an append-only history
(``growth_entry``) rather than a ledger asset: it is never spent or moved
between cards, so double entry would add a system account and two lines to
every checkout for no gain; the history still makes it exact (the counter is
the sum of the entries, checked by ``growth_mismatches``) and reversible (a
refund writes a negative entry). Growth belongs to the member, not a card.

Rules:
- Upgrades follow growth EARNED (never a points balance, cf. open-loyalty#131):
  when growth reaches a higher level's ``upgrade_threshold`` the member moves
  to the highest level reached, possibly skipping one. Growth never lowers a
  level by itself.
- A refund takes its growth back. If the member's growth then falls below the
  current level's threshold and that level came from growth (the latest level
  change was an upgrade or a refund), the member returns to the highest level
  their growth still reaches. Levels set by hand are left alone.
- Review (optional, ``downgrade_enabled``): on ``review_levels(as_of)`` a
  member whose level has a keep threshold, who has held the level for a full
  review window (``review_months``, 12 by default) and whose growth earned in
  that window is below the threshold goes down one level; their growth is cut
  to the lower level's upgrade threshold so the next purchase does not lift
  them straight back. A review repeated for the same date changes nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite

from app import clock
from app.db import UtcDateTime, db, utcnow
from app.db.prepared import Prepared
from app.errors import InvalidRequest
from app.ledger.rules.models import GrowthEntry, LevelChangeRecord, LevelRule, MemberGrowth
from app.members.models import Level, Member
from app.signals import level_changed


@dataclass
class LevelChange:
    old_level: Level | None
    new_level: Level | None
    reason: str


def growth_of(member: Member) -> int:
    return (
        db.session.scalar(select(MemberGrowth.growth).where(MemberGrowth.member_id == member.id))
        or 0
    )


def apply_growth(member: Member, growth: int, *, transaction_id: int | None) -> LevelChange | None:
    """Add earned growth; upgrade when a threshold is crossed. Returns the change, if any."""
    if growth < 0:
        raise ValueError("growth to apply must not be negative; use reverse_growth")
    if growth == 0:
        return None
    rank = member.level.rank if member.level is not None else 0
    total, target_id = _earn(member.id, growth, transaction_id=transaction_id, rank=rank)
    if target_id is None:
        return None  # no threshold crossed: the usual case ends here
    target = db.session.get_one(Level, target_id)
    # The upsert above waited for any concurrent purchase of this member to commit; it
    # may have upgraded them already, so read the level again before recording a change.
    db.session.refresh(member, ["level_id", "level"])
    if member.level is not None and member.level.rank >= target.rank:
        return None
    return _change(member, target, "upgrade", transaction_id=transaction_id, growth=total)


def reverse_growth(
    member: Member, growth: int, *, transaction_id: int | None
) -> LevelChange | None:
    """Take growth back (a refund) and undo the level it no longer supports."""
    if growth < 0:
        raise ValueError("growth to reverse must not be negative")
    if growth == 0:
        return None
    current = _locked_growth(member.id)
    total = max(current - growth, 0)
    _set_growth(member.id, total)
    db.session.add(
        GrowthEntry(
            member_id=member.id,
            delta=total - current,
            reason="refund",
            transaction_id=transaction_id,
        )
    )
    level = member.level
    if level is None or level.upgrade_threshold <= total:
        return None
    last = _last_change(member.id)
    if last is None or last.reason not in ("upgrade", "refund"):
        return None
    target = level_for_growth(total)
    if target is None or target.rank >= level.rank:
        return None
    return _change(member, target, "refund", transaction_id=transaction_id, growth=total)


def level_for_growth(growth: int) -> Level | None:
    """The highest level whose threshold ``growth`` reaches (the lowest level if none)."""
    level = db.session.scalar(
        select(Level).where(Level.upgrade_threshold <= growth).order_by(Level.rank.desc()).limit(1)
    )
    return level or db.session.scalar(select(Level).order_by(Level.rank).limit(1))


def set_level(member: Member, level: Level, *, reason: str = "manual") -> LevelChange | None:
    """An admin's (or the demo's) level assignment, recorded like any other change."""
    if member.level_id == level.id:
        return None
    return _change(member, level, reason, transaction_id=None, growth=growth_of(member))


def set_opening_growth(member: Member, growth: int) -> bool:
    """A member's growth as a member import brings it from another system: written once, as
    an ``adjust`` entry, while the member has no growth history; True when written. The
    same figure again changes nothing; another figure once growth exists is refused (it
    would not be an opening). The level is left alone (the import sets it by hand)."""
    if growth < 0:
        raise ValueError("growth is never negative")
    current = _locked_growth(member.id)
    if current == growth:
        return False
    if db.session.scalar(
        select(func.count(GrowthEntry.id)).where(GrowthEntry.member_id == member.id)
    ):
        raise InvalidRequest(
            f"the member already has growth {current} in Laoyou; the file says {growth}"
        )
    _add_growth(member.id, growth)
    db.session.add(GrowthEntry(member_id=member.id, delta=growth, reason="adjust", at=utcnow()))
    db.session.flush()
    return True


def level_history(member: Member) -> list[LevelChangeRecord]:
    return list(
        db.session.scalars(
            select(LevelChangeRecord)
            .where(LevelChangeRecord.member_id == member.id)
            .order_by(LevelChangeRecord.id)
        )
    )


# --- yearly review -------------------------------------------------------------------


def review_levels(as_of: dt.date) -> list[tuple[Member, LevelChange]]:
    """Downgrade members below their level's keep threshold. Flushes; the caller commits."""
    from app.cards.services import add_months
    from app.ledger.rules.engine import current_rules

    rules = current_rules()
    if not rules.downgrade_enabled:
        return []
    zone = clock.zone()
    window_start = dt.datetime.combine(
        add_months(as_of, -rules.review_months), dt.time(), zone
    ).astimezone(dt.UTC)
    window_end = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time(), zone).astimezone(
        dt.UTC
    )
    candidates = db.session.execute(
        select(Member, LevelRule.keep_threshold)
        .join(LevelRule, LevelRule.level_id == Member.level_id)
        .where(LevelRule.keep_threshold > 0)
        .order_by(Member.id)
    ).all()
    changes = []
    for member, keep in candidates:
        last = _last_change(member.id)
        if last is not None and last.review_on == as_of:
            continue  # this review already ran for this member
        held_since = last.at if last is not None else member.joined_at
        if held_since > window_start:
            continue  # not yet a full window at this level
        earned: int = (
            db.session.scalar(
                select(func.coalesce(func.sum(GrowthEntry.delta), 0)).where(
                    GrowthEntry.member_id == member.id,
                    GrowthEntry.reason.in_(("earn", "refund")),
                    GrowthEntry.at >= window_start,
                    GrowthEntry.at < window_end,
                )
            )
            or 0
        )
        if earned >= keep:
            continue
        assert member.level is not None  # joined on LevelRule
        lower = db.session.scalar(
            select(Level).where(Level.rank < member.level.rank).order_by(Level.rank.desc()).limit(1)
        )
        if lower is None:
            continue
        current = _locked_growth(member.id)
        total = min(current, lower.upgrade_threshold)
        if total != current:
            _set_growth(member.id, total)
        db.session.add(
            GrowthEntry(
                member_id=member.id, delta=total - current, reason="downgrade", review_on=as_of
            )
        )
        change = _change(
            member, lower, "downgrade", transaction_id=None, growth=total, review_on=as_of
        )
        changes.append((member, change))
    return changes


def review_job(as_of: dt.date | None = None) -> int:
    """The scheduler's entry point: one review in its own unit of work; members moved."""
    from app.db import unit_of_work

    with unit_of_work():
        return len(review_levels(as_of or clock.local_today()))


# --- internals ------------------------------------------------------------------------


_growth = cast(Table, MemberGrowth.__table__)
_level = cast(Table, Level.__table__)
_UPSERTS: dict[str, Any] = {}


def _upsert(dialect: str) -> Any:
    """INSERT … ON CONFLICT DO UPDATE SET growth = growth + excluded.growth RETURNING growth."""
    stmt = _UPSERTS.get(dialect)
    if stmt is None:
        make = postgresql.insert if dialect == "postgresql" else sqlite.insert
        base = make(_growth).values(member_id=bindparam("member_id"), growth=bindparam("delta"))
        stmt = base.on_conflict_do_update(
            index_elements=[_growth.c.member_id],
            set_={"growth": _growth.c.growth + base.excluded.growth},
        ).returning(_growth.c.growth)
        _UPSERTS[dialect] = stmt
    return stmt


#: PostgreSQL: a purchase's growth in one statement: the counter (created if missing),
#: its history row, and the level the new total reaches above ``rank``, if any.
PG_EARN = """
WITH counter AS (
    INSERT INTO member_growth (member_id, growth) VALUES (:member_id, :delta)
    ON CONFLICT (member_id) DO UPDATE SET growth = member_growth.growth + excluded.growth
    RETURNING growth
), entry AS (
    INSERT INTO growth_entry (member_id, delta, reason, transaction_id, at)
    VALUES (:member_id, :delta, 'earn', :transaction_id, :at)
)
SELECT counter.growth, (
    SELECT level.id FROM level
     WHERE level.upgrade_threshold <= counter.growth AND level.rank > :rank
     ORDER BY level.rank DESC LIMIT 1
) AS next_level FROM counter
"""
#: SQLite (no writes in a WITH): the counter and the level it reaches in one upsert;
#: the history row is a second statement (a local call there, not a round trip).
SQLITE_EARN = """
INSERT INTO member_growth (member_id, growth) VALUES (:member_id, :delta)
ON CONFLICT (member_id) DO UPDATE SET growth = member_growth.growth + excluded.growth
RETURNING growth, (
    SELECT level.id FROM level
     WHERE level.upgrade_threshold <= member_growth.growth AND level.rank > :rank
     ORDER BY level.rank DESC LIMIT 1
) AS next_level
"""
_EARN = {
    "postgresql": Prepared(text(PG_EARN).bindparams(bindparam("at", type_=UtcDateTime()))),
    "sqlite": Prepared(text(SQLITE_EARN)),
}
_EARN_ENTRY = Prepared(
    insert(cast(Table, GrowthEntry.__table__)).values(
        member_id=bindparam("member_id"),
        delta=bindparam("delta"),
        reason="earn",
        transaction_id=bindparam("transaction_id"),
        at=bindparam("at"),
    )
)


def _earn(
    member_id: int, delta: int, *, transaction_id: int | None, rank: int
) -> tuple[int, int | None]:
    """Add earned growth with its history row: (new total, id of a level reached above
    ``rank`` or None). On every checkout, so prepared statements (``app.db.prepared``, the
    journal's executor: through SQLAlchemy's execute they cost a fifth of a checkout on
    SQLite, measured for issue 10) and no ORM flush."""
    connection = db.connection()
    params: dict[str, Any] = {"member_id": member_id, "delta": delta, "rank": rank}
    entry = {"member_id": member_id, "delta": delta, "transaction_id": transaction_id}
    if connection.dialect.name == "postgresql":
        params.update(entry, at=utcnow())
        total, target_id = _EARN["postgresql"].rows(connection, params)[0]
        return int(total), target_id
    total, target_id = _EARN["sqlite"].rows(connection, params)[0]
    _EARN_ENTRY.rows(connection, {**entry, "at": utcnow()})
    return int(total), target_id


def _add_growth(member_id: int, delta: int) -> int:
    """Atomically add to the counter (creating it) and return the new total: one statement."""
    connection = db.connection()
    result = connection.execute(
        _upsert(connection.dialect.name), {"member_id": member_id, "delta": delta}
    )
    return int(result.scalar_one())


def _locked_growth(member_id: int) -> int:
    value = db.session.scalar(
        select(MemberGrowth.growth).where(MemberGrowth.member_id == member_id).with_for_update()
    )
    if value is None:
        _add_growth(member_id, 0)
        return 0
    return value


def _set_growth(member_id: int, value: int) -> None:
    db.session.execute(
        update(MemberGrowth).where(MemberGrowth.member_id == member_id).values(growth=value)
    )


def _last_change(member_id: int) -> LevelChangeRecord | None:
    return db.session.scalar(
        select(LevelChangeRecord)
        .where(LevelChangeRecord.member_id == member_id)
        .order_by(LevelChangeRecord.id.desc())
        .limit(1)
    )


def _change(
    member: Member,
    level: Level,
    reason: str,
    *,
    transaction_id: int | None,
    growth: int,
    review_on: dt.date | None = None,
) -> LevelChange:
    old = member.level
    member.level = level
    db.session.add(
        LevelChangeRecord(
            member_id=member.id,
            old_level_id=old.id if old is not None else None,
            new_level_id=level.id,
            reason=reason,
            transaction_id=transaction_id,
            growth=growth,
            review_on=review_on,
            at=utcnow(),
        )
    )
    db.session.flush()
    level_changed.send(
        member, old_level=old, new_level=level, transaction_id=transaction_id, reason=reason
    )
    return LevelChange(old_level=old, new_level=level, reason=reason)


def growth_mismatches() -> list[tuple[int, int, int]]:
    """(member id, counter, sum of entries) for every member whose counter disagrees."""
    sums = (
        select(GrowthEntry.member_id, func.sum(GrowthEntry.delta).label("total"))
        .group_by(GrowthEntry.member_id)
        .subquery()
    )
    rows = db.session.execute(
        select(MemberGrowth.member_id, MemberGrowth.growth, func.coalesce(sums.c.total, 0))
        .outerjoin(sums, sums.c.member_id == MemberGrowth.member_id)
        .where(MemberGrowth.growth != func.coalesce(sums.c.total, 0))
    ).all()
    return [(r[0], r[1], r[2]) for r in rows]
