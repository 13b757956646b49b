"""The offline queue: sales kept in a local SQLite file while the central service is away.

Only what is safe offline is queued: cash sales (they earn points later) and count-card
visits. A split tender (stored value + cash) spends stored value: refused like it.
Each sale keeps the idempotency key it was given when it was made, and the
request body exactly as it will be sent, so a resend is the same request: the central
service answers a replay, never a second posting.

Sync sends the pending sales oldest first and marks each one ``sent`` only after the
central answer, in its own SQLite transaction. A station killed between the answer and
the mark sends that sale again on restart; the key makes it a replay. So nothing is
lost (a sale leaves ``pending`` only on an answer) and nothing is doubled.

What the service refused (a card reported lost meanwhile, a frozen card) is ``refused``
with its code and message, listed for the staff.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Kinds of sale that may be queued, by ``pay_with``.
OFFLINE_PAY_WITH = frozenset({"cash", "visits"})

_SCHEMA = """
CREATE TABLE IF NOT EXISTS queued_sale (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    idempotency_key TEXT NOT NULL UNIQUE,
    card_ref TEXT NOT NULL,
    shift TEXT NOT NULL,
    staff TEXT NOT NULL,
    staff_token TEXT,
    body TEXT NOT NULL,
    created_at TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'refused')),
    result TEXT,
    refused_code TEXT,
    refused_message TEXT,
    attempts INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS ix_queued_sale_state ON queued_sale (state, id);
"""


class QueueRefused(Exception):
    """A sale the queue will not keep (a limit reached); ``code`` is for the page."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class QueuedSale:
    id: int
    idempotency_key: str
    card_ref: str
    staff: str
    staff_token: str | None
    body: dict[str, Any]
    created_at: str
    state: str
    refused_code: str | None = None
    refused_message: str | None = None


class OfflineQueue:
    """One SQLite file; safe to use from the page's threads and the sync thread."""

    def __init__(self, path: str | Path, *, per_card: int = 3, per_shift: int = 50) -> None:
        self.path = str(path)
        self.per_card = per_card
        self.per_shift = per_shift
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def add(
        self,
        *,
        key: str,
        card_ref: str,
        shift: str,
        staff: str,
        staff_token: str | None,
        body: dict[str, Any],
    ) -> QueuedSale:
        """Keep a sale for later, or ``QueueRefused`` past a limit or for what is not safe.

        A key already queued answers the sale kept under it: nothing is added twice.
        """
        if (
            body.get("pay_with") not in OFFLINE_PAY_WITH
            or body.get("points_offset")
            or body.get("stored_value_fen")
        ):
            raise QueueRefused(
                "offline_not_allowed",
                "offline, only cash sales and count-card visits can be taken: stored value "
                "and points need the central service",
            )
        with self._tx() as conn:
            known = conn.execute(
                "SELECT id FROM queued_sale WHERE idempotency_key = ?", (key,)
            ).fetchone()
            if known is not None:
                # The same sale again (the page retried): kept once, under its first body.
                return self.get(int(known[0]))
            for_card = conn.execute(
                "SELECT count(*) FROM queued_sale WHERE card_ref = ? AND state = 'pending'",
                (card_ref,),
            ).fetchone()[0]
            if for_card >= self.per_card:
                raise QueueRefused(
                    "offline_card_limit",
                    f"this card already has {for_card} offline sales waiting (the limit)",
                )
            for_shift = conn.execute(
                "SELECT count(*) FROM queued_sale WHERE shift = ?", (shift,)
            ).fetchone()[0]
            if for_shift >= self.per_shift:
                raise QueueRefused(
                    "offline_shift_limit",
                    f"this shift already took {for_shift} offline sales (the limit)",
                )
            created = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
            cursor = conn.execute(
                "INSERT INTO queued_sale (idempotency_key, card_ref, shift, staff, staff_token,"
                " body, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (key, card_ref, shift, staff, staff_token, json.dumps(body), created),
            )
            row_id = cursor.lastrowid
        return self.get(int(row_id or 0))

    def get(self, sale_id: int) -> QueuedSale:
        with self._lock:
            row = self._conn.execute(
                "SELECT * FROM queued_sale WHERE id = ?", (sale_id,)
            ).fetchone()
        return _sale(row)

    def pending(self, limit: int = 100) -> list[QueuedSale]:
        """The oldest pending sales first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT * FROM queued_sale WHERE state = 'pending' ORDER BY id LIMIT ?", (limit,)
            ).fetchall()
        return [_sale(r) for r in rows]

    def count_pending(self) -> int:
        with self._lock:
            return int(
                self._conn.execute(
                    "SELECT count(*) FROM queued_sale WHERE state = 'pending'"
                ).fetchone()[0]
            )

    def refused(self) -> list[QueuedSale]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT * FROM queued_sale WHERE state = 'refused' ORDER BY id"
            ).fetchall()
        return [_sale(r) for r in rows]

    def mark_sent(self, sale_id: int, result: dict[str, Any]) -> None:
        with self._tx() as conn:
            conn.execute(
                "UPDATE queued_sale SET state = 'sent', result = ?, attempts = attempts + 1 "
                "WHERE id = ? AND state = 'pending'",
                (json.dumps(result), sale_id),
            )

    def mark_refused(self, sale_id: int, code: str, message: str) -> None:
        with self._tx() as conn:
            conn.execute(
                "UPDATE queued_sale SET state = 'refused', refused_code = ?, refused_message = ?,"
                " attempts = attempts + 1 WHERE id = ? AND state = 'pending'",
                (code, message, sale_id),
            )


def _sale(row: sqlite3.Row) -> QueuedSale:
    return QueuedSale(
        id=row["id"],
        idempotency_key=row["idempotency_key"],
        card_ref=row["card_ref"],
        staff=row["staff"],
        staff_token=row["staff_token"],
        body=json.loads(row["body"]),
        created_at=row["created_at"],
        state=row["state"],
        refused_code=row["refused_code"],
        refused_message=row["refused_message"],
    )


#: ``send(sale)`` answers the central result or raises the client's Offline / Refused.
Sender = Callable[[QueuedSale], dict[str, Any]]


@dataclass
class SyncReport:
    sent: int = 0
    refused: int = 0
    offline: bool = False


def sync(
    queue: OfflineQueue,
    send: Sender,
    *,
    is_offline: Callable[[BaseException], bool],
    is_refused: Callable[[BaseException], tuple[str, str] | None],
    batch: int = 100,
) -> SyncReport:
    """Send every pending sale, oldest first, until the queue is empty or the service is away.

    ``is_offline(exc)`` says an error means "try later" (stop, keep the sale pending);
    ``is_refused(exc)`` gives (code, message) when the service refused the sale for good.
    Any other error propagates and leaves the sale pending.
    """
    report = SyncReport()
    while True:
        sales = queue.pending(batch)
        if not sales:
            return report
        for sale in sales:
            try:
                result = send(sale)
            except Exception as exc:
                if is_offline(exc):
                    report.offline = True
                    return report
                refusal = is_refused(exc)
                if refusal is None:
                    raise
                queue.mark_refused(sale.id, *refusal)
                report.refused += 1
                continue
            queue.mark_sent(sale.id, result)
            report.sent += 1
