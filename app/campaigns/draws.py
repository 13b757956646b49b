"""Drawing winners fairly and auditably, and what happens around it.

The procedure (docs/architecture.md, "Campaigns: votes and draws", says it in words):

1. When a draw opens, 32 random bytes (``secrets.token_bytes``) become its *seed*; the
   seed's SHA-256 is published at once (the panel, ``laoyou draw show``), the seed is
   kept secret until the winners are drawn.
2. The *entry list* is the draw's entries in ascending entry id, one line each,
   ``"<entry id>:<member id>\\n"`` in ASCII; ``D`` = SHA-256 of those lines joined.
3. Winners = min(prizes given, entries). With ``remaining`` = the entry list and a
   counter ``i`` from 0: ``r`` = the first 8 bytes, big-endian, of
   HMAC-SHA256(key=seed, msg=D ‖ i as 8 bytes big-endian); ``i`` += 1; with
   ``m = len(remaining)``, an ``r`` at or above ``2**64 - 2**64 % m`` is rejected (no
   modulo bias), otherwise ``remaining.pop(r % m)`` is the next winner.
4. Picks fill the prizes in order: the first prize's count first, then the second's…

Anyone with the revealed seed and the entry list can recompute the winners
(``recompute``); ``verify`` does it against what is stored.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select

from app.campaigns.models import Draw, DrawEntry, DrawWinner
from app.campaigns.notify import notify
from app.db import db, utcnow
from app.errors import InvalidRequest
from app.i18n import N_
from app.members.models import Member

SEED_BYTES = 32
_SPACE = 2**64

WON = N_(
    "Congratulations! You won %(prize)s in the draw “%(title)s”. "
    "Show this message at any of our stores to collect it."
)
NOT_WON = N_(
    "The draw “%(title)s” is done: %(winners)s winner(s) among %(entries)s entries. "
    "You did not win this time; thank you for taking part."
)
CANCELLED = N_("The draw “%(title)s” was cancelled. Your %(points)s points are back on your card.")


def commit_seed(draw: Draw) -> None:
    """Make the secret seed and publish its hash; once per draw."""
    if draw.seed is None:
        draw.seed = secrets.token_bytes(SEED_BYTES)
        draw.seed_sha256 = hashlib.sha256(draw.seed).hexdigest()


def entry_list(draw_id: int) -> list[tuple[int, int]]:
    """(entry id, member id) in the order the procedure uses: ascending entry id."""
    rows = db.session.execute(
        select(DrawEntry.id, DrawEntry.member_id)
        .where(DrawEntry.draw_id == draw_id)
        .order_by(DrawEntry.id)
    )
    return [(int(e), int(m)) for e, m in rows]


def entries_digest(entries: Sequence[tuple[int, int]]) -> bytes:
    lines = b"".join(f"{entry_id}:{member_id}\n".encode("ascii") for entry_id, member_id in entries)
    return hashlib.sha256(lines).digest()


def pick(seed: bytes, digest: bytes, population: int, picks: int) -> list[int]:
    """Indices into the entry list, in the order drawn (step 3 above)."""
    remaining = list(range(population))
    chosen: list[int] = []
    counter = 0
    while len(chosen) < min(picks, population):
        block = hmac.new(seed, digest + counter.to_bytes(8, "big"), hashlib.sha256).digest()
        counter += 1
        r = int.from_bytes(block[:8], "big")
        m = len(remaining)
        if r >= _SPACE - _SPACE % m:
            continue
        chosen.append(remaining.pop(r % m))
    return chosen


def recompute(
    seed: bytes, entries: Sequence[tuple[int, int]], prizes: Sequence[tuple[int, int]]
) -> list[tuple[int, int, int]]:
    """(pick number, prize id, entry id) from the seed, the entry list and the prizes
    ((prize id, count) in prize order)."""
    slots = [prize_id for prize_id, count in prizes for _ in range(count)]
    indices = pick(seed, entries_digest(entries), len(entries), len(slots))
    return [(n + 1, slots[n], entries[i][0]) for n, i in enumerate(indices)]


def draw_winners(draw: Draw) -> list[DrawWinner]:
    """Close ``draw`` and store its winners from its seed; tell every entrant. Flushes."""
    if draw.status != "open":
        raise InvalidRequest(f"draw {draw.id} is {draw.status}, not open", field="status")
    commit_seed(draw)
    assert draw.seed is not None
    entries = entry_list(draw.id)
    draw.entries_sha256 = entries_digest(entries).hex()
    members = {m: e for e, m in entries}
    picks = recompute(draw.seed, entries, [(p.id, p.winners) for p in draw.prizes])
    member_of = {e: m for e, m in entries}
    winners = [
        DrawWinner(
            draw_id=draw.id,
            pick=n,
            prize_id=prize_id,
            entry_id=entry_id,
            member_id=member_of[entry_id],
        )
        for n, prize_id, entry_id in picks
    ]
    db.session.add_all(winners)
    draw.status, draw.closed_at = "closed", utcnow()
    db.session.flush()
    _announce(draw, winners, members)
    return winners


def _announce(draw: Draw, winners: list[DrawWinner], members: dict[int, int]) -> None:
    """One message per entrant, on the channel they entered by, in their language."""
    prizes = {p.id: p.name for p in draw.prizes}
    won = {w.member_id: prizes[w.prize_id] for w in winners}
    channels = {
        member_id: channel
        for member_id, channel in db.session.execute(
            select(DrawEntry.member_id, DrawEntry.channel).where(DrawEntry.draw_id == draw.id)
        )
    }
    for member in _members(list(members)):
        values: dict[str, object]
        if member.id in won:
            text, values = WON, {"prize": won[member.id], "title": draw.title}
        else:
            values = {"title": draw.title, "winners": len(winners), "entries": len(members)}
            text = NOT_WON
        notify(member, channels[member.id], text, values, key=f"draw:{draw.id}:result:{member.id}")


def _members(ids: list[int]) -> list[Member]:
    found: list[Member] = []
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        found += db.session.scalars(select(Member).where(Member.id.in_(chunk)).order_by(Member.id))
    return found


def winners_of(draw: Draw) -> list[DrawWinner]:
    return list(
        db.session.scalars(
            select(DrawWinner).where(DrawWinner.draw_id == draw.id).order_by(DrawWinner.pick)
        )
    )


@dataclass
class Verification:
    """What ``verify`` found: ``ok`` when every check agrees."""

    draw_id: int
    entries: int = 0
    winners: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(draw: Draw) -> Verification:
    """Recompute the winners from the revealed seed and the stored entries."""
    report = Verification(draw.id)
    if draw.status != "closed" or draw.seed is None:
        report.problems.append(f"draw {draw.id} has not been drawn ({draw.status})")
        return report
    if hashlib.sha256(draw.seed).hexdigest() != draw.seed_sha256:
        report.problems.append("the seed does not match the published seed hash")
    entries = entry_list(draw.id)
    report.entries = len(entries)
    if entries_digest(entries).hex() != draw.entries_sha256:
        report.problems.append("the entry list differs from the one drawn from")
    expected = recompute(draw.seed, entries, [(p.id, p.winners) for p in draw.prizes])
    stored = [(w.pick, w.prize_id, w.entry_id) for w in winners_of(draw)]
    report.winners = len(stored)
    if expected != stored:
        report.problems.append("the stored winners differ from those the seed gives")
    return report


def refund_entries(draw: Draw) -> int:
    """Give back every paid entry's points by a reversing transaction (once each)."""
    from app.ledger.reversal import reverse_points_spend

    refunded = 0
    paid = db.session.scalars(
        select(DrawEntry)
        .where(DrawEntry.draw_id == draw.id, DrawEntry.ledger_transaction_id.is_not(None))
        .order_by(DrawEntry.id)
    )
    for entry in paid:
        if entry.refund_transaction_id is not None or entry.ledger_transaction_id is None:
            continue
        posting = reverse_points_spend(
            entry.ledger_transaction_id,
            key=f"draw:{draw.id}:member:{entry.member_id}:refund",
            reason="draw_refund",
            details={"draw_id": draw.id},
        )
        entry.refund_transaction_id = posting.id
        refunded += 1
        member = db.session.get(Member, entry.member_id)
        if member is not None:
            notify(
                member,
                entry.channel,
                CANCELLED,
                {"title": draw.title, "points": entry.points_paid},
                key=f"draw:{draw.id}:cancelled:{member.id}",
            )
    db.session.flush()
    return refunded
