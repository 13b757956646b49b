"""Posting to the journal: the one way anything changes a balance.

Other packages (rules, redemptions, gifts, expiry policies) call :func:`post`
or the two conveniences :func:`credit_points` and :func:`debit_points`. Each
call is one journal transaction inside the caller's database transaction
(this module flushes, never commits).

The guarantees, in the order a posting meets them:

1. **Once per key.** ``key`` is unique in the database. The same key with the
   same ``request`` returns the first posting (``Posting.replayed``) and changes
   nothing; with another request it raises ``IdempotencyConflict``. Two
   concurrent postings with one key: the second waits on the first's row
   (PostgreSQL) or on the write lock (SQLite), then replays it.
2. **No overspend.** The card accounts move in one checked
   ``UPDATE … SET balance = balance + :net WHERE balance + :net >= :floor``;
   an account missing from its RETURNING means ``InsufficientFunds`` and,
   because the caller's transaction is then rolled back, nothing is written.
   The row locks (taken by ``lock_card_accounts`` or the UPDATE, held to
   commit) serialise everything else on those accounts, lots included.
3. **Zero sum.** Lines sum to zero per asset; checked here before any write,
   and again by PostgreSQL at commit (``ddl.PG_ZERO_SUM``).
4. **Lots.** A points credit to a card opens a lot (with its expiry date); a
   points debit consumes the lots that expire first, then the oldest, and
   records each use (``points_lot_use``), so expiry and refunds know exactly
   which points went where.

Example (a sign-up gift)::

    credit_points(card, 100, kind="gift", reason="signup_gift",
                  key=f"signup:{member.id}", expires_on=points_expiry(now))
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import BigInteger, Table, and_, bindparam, case, insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite

from app.db import db, utcnow
from app.db.prepared import Prepared
from app.errors import IdempotencyConflict, InsufficientFunds, InvalidRequest
from app.ledger.models import (
    ASSETS,
    SYSTEM_ACCOUNTS,
    Account,
    Line,
    PointsLot,
    PointsLotUse,
    Transaction,
    system_account_id,
)
from app.limits import MAX_JOURNAL_KEY_CHARS

if TYPE_CHECKING:
    from app.cards.lookup import HolderRead

_account = cast(Table, Account.__table__)
_line = cast(Table, Line.__table__)
_lot = cast(Table, PointsLot.__table__)
_lot_use = cast(Table, PointsLotUse.__table__)
_txn = cast(Table, Transaction.__table__)
_SYSTEM_ROWS = {aid: {"id": aid, "code": c, "asset": a} for aid, c, a in SYSTEM_ACCOUNTS}


class LedgerCorrupt(RuntimeError):
    """The journal disagrees with itself (lots vs balance): never expected, never swallowed."""


@dataclass(frozen=True)
class Entry:
    """One intended line of a posting.

    A card line names ``card_id``; a system line names ``system`` (``issued``,
    ``spent`` or ``breakage``). ``amount`` is signed: positive adds to the account.
    """

    asset: str
    amount: int
    card_id: int | None = None
    system: str | None = None
    #: Card debits: how far below zero the balance may go (the credit limit on
    #: stored value paid in; 0 everywhere else).
    overdraft: int = 0
    #: Points credits: the new lot's last valid day (None: never expires).
    expires_on: dt.date | None = None
    #: Points: use these lots instead of the default order: (lot_id, amount) with
    #: amount > 0 consumed and < 0 given back; they must add up to ``-amount``.
    lots: Sequence[tuple[int, int]] | None = None
    #: Points credits: when the lot was earned (defaults to now); a moved lot keeps its own.
    earned_at: dt.datetime | None = None
    moved_from_lot_id: int | None = None
    #: Points debits: take from these lots first (a refund takes back the purchase's own lot).
    prefer_lots: Sequence[int] = ()


def from_issued(asset: str, amount: int, card_id: int, **card_line: Any) -> list[Entry]:
    """The two lines of value coming onto a card from the ``issued`` system account."""
    return [
        Entry(asset, amount, card_id=card_id, **card_line),
        Entry(asset, -amount, system="issued"),
    ]


@dataclass
class PostedLine:
    account_id: int
    card_id: int | None
    asset: str
    amount: int
    balance_after: int | None
    line_id: int = 0
    lot_uses: list[tuple[int, int]] = field(default_factory=list)


@dataclass
class Posting:
    transaction: Transaction
    #: True when the key was already posted: nothing new was written.
    replayed: bool
    lines: list[PostedLine] = field(default_factory=list)

    @property
    def id(self) -> int:
        return self.transaction.id


def request_hash(request: Any) -> str:
    """A stable hash of what was asked, to tell a replay from a reused key."""
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def dialect() -> str:
    return db.session.get_bind().dialect.name


def dialect_insert(table: Any) -> Any:
    """INSERT with the dialect's ON CONFLICT support (PostgreSQL and SQLite both have it)."""
    return (postgresql.insert if dialect() == "postgresql" else sqlite.insert)(table)


# The hot path's statements, built once: each posting only binds values, so SQLAlchemy
# neither rebuilds nor recompiles them, and they run on the session's connection
# without the ORM's per-statement work.
_FIND = Prepared(
    select(_txn.c.id, _txn.c.request_hash).where(_txn.c.idempotency_key == bindparam("key")),
    fields=("id", "request_hash"),
)
_ACCOUNT_FIELDS = ("id", "card_id", "asset", "balance")
_ACCOUNTS = (
    select(_account.c.id, _account.c.card_id, _account.c.asset, _account.c.balance)
    .where(
        _account.c.card_id.in_(bindparam("cards", expanding=True)),
        _account.c.asset.in_(bindparam("assets", expanding=True)),
    )
    .order_by(_account.c.id)
)
_ACCOUNTS_LOCKED = _ACCOUNTS.with_for_update()
#: The common case, one card: every account of it (a handful of rows), no IN lists.
_CARD_ACCOUNTS = (
    select(_account.c.id, _account.c.card_id, _account.c.asset, _account.c.balance)
    .where(_account.c.card_id == bindparam("card"))
    .order_by(_account.c.id)
)
_CARD_ACCOUNTS_LOCKED = Prepared(_CARD_ACCOUNTS.with_for_update(), fields=_ACCOUNT_FIELDS)
_CARD_ACCOUNTS_READ = Prepared(_CARD_ACCOUNTS, fields=_ACCOUNT_FIELDS)
_NEW_LOT = insert(_lot)
_USE_LOT = (
    update(_lot)
    .where(_lot.c.id == bindparam("lot"))
    .values(remaining=_lot.c.remaining - bindparam("used"))
)
_LOT_USE = insert(_lot_use)
_BY_DIALECT: dict[str, dict[str, Any]] = {}
_LINES_INSERTS: dict[bool, Prepared] = {}
_BALANCE_UPDATES: dict[int, Prepared] = {}
_SQLITE_LINES: dict[int, Prepared] = {}
#: The floor of a net credit: no check.
NO_FLOOR = -(2**62)


def _balance_update(accounts: int) -> Prepared:
    """One UPDATE of ``accounts`` card accounts by their net amounts, each debit floored."""
    stmt = _BALANCE_UPDATES.get(accounts)
    if stmt is None:
        ids = [bindparam(f"i{n}", type_=BigInteger) for n in range(accounts)]
        amount = case(
            *[
                (_account.c.id == ids[n], bindparam(f"m{n}", type_=BigInteger))
                for n in range(accounts)
            ]
        )
        least = case(
            *[
                (_account.c.id == ids[n], bindparam(f"f{n}", type_=BigInteger))
                for n in range(accounts)
            ]
        )
        stmt = _BALANCE_UPDATES[accounts] = Prepared(
            update(_account)
            .where(_account.c.id.in_(ids), _account.c.balance + amount >= least)
            .values(balance=_account.c.balance + amount)
            .returning(_account.c.id, _account.c.balance),
            fields=("id", "balance"),
        )
    return stmt


#: PostgreSQL: every line of a posting in one INSERT whatever their number (arrays,
#: so one statement text and one server-side plan), and optionally the points lot of
#: one of them in the same statement (a data-modifying CTE).
_PG_LINES = """
WITH written AS (
    INSERT INTO ledger_line (transaction_id, account_id, asset, amount, balance_after)
    SELECT * FROM unnest(CAST(:t AS bigint[]), CAST(:a AS bigint[]), CAST(:s AS varchar[]),
                         CAST(:m AS bigint[]), CAST(:b AS bigint[]))
    RETURNING id, account_id, balance_after
){opened}
SELECT id, account_id, balance_after FROM written
"""
_PG_OPENED = """, opened AS (
    INSERT INTO points_lot (account_id, line_id, amount, remaining, earned_at, expires_on,
                            moved_from_id)
    SELECT account_id, id, :lot_amount, :lot_amount, :lot_earned_at, :lot_expires_on,
           :lot_moved_from_id
      FROM written
     WHERE account_id = :lot_account_id AND balance_after = :lot_balance_after
)"""
_LINE_FIELDS = ("id", "account_id", "balance_after")
_LINE_COLUMNS = ("transaction_id", "account_id", "asset", "amount", "balance_after")


def _sqlite_lines(count: int) -> Prepared:
    """SQLite: ``count`` lines in one multi-row INSERT (one statement text per count)."""
    stmt = _SQLITE_LINES.get(count)
    if stmt is None:
        rows: list[dict[str, Any]] = [
            {c: bindparam(f"{c}_{n}") for c in _LINE_COLUMNS} for n in range(count)
        ]
        stmt = _SQLITE_LINES[count] = Prepared(
            insert(_line)
            .values(rows)
            .returning(_line.c.id, _line.c.account_id, _line.c.balance_after),
            fields=_LINE_FIELDS,
        )
    return stmt


def _lines_insert(*, with_lot: bool) -> Prepared:
    found = _LINES_INSERTS.get(with_lot)
    if found is None:
        stmt = text(_PG_LINES.format(opened=_PG_OPENED if with_lot else ""))
        if with_lot:
            stmt = stmt.bindparams(
                bindparam("lot_earned_at", type_=_lot.c.earned_at.type),
                bindparam("lot_expires_on", type_=_lot.c.expires_on.type),
            )
        found = _LINES_INSERTS[with_lot] = Prepared(
            stmt.columns(_line.c.id, _line.c.account_id, _line.c.balance_after),
            fields=_LINE_FIELDS,
        )
    return found


def _statements() -> dict[str, Any]:
    name = dialect()
    found = _BY_DIALECT.get(name)
    if found is None:
        ins = postgresql.insert if name == "postgresql" else sqlite.insert
        found = _BY_DIALECT[name] = {
            "txn": Prepared(
                ins(_txn)
                .on_conflict_do_nothing(index_elements=["idempotency_key"])
                .returning(_txn.c.id),
                json=("details",),
            ),
            # Explicit columns: two plain INSERTs of one table would share a compiled form.
            "account": ins(_account)
            .values(card_id=bindparam("card_id"), asset=bindparam("asset"), balance=0)
            .on_conflict_do_nothing(),
            "system_account": ins(_account)
            .values(id=bindparam("id"), code=bindparam("code"), asset=bindparam("asset"), balance=0)
            .on_conflict_do_nothing(),
            "accounts": _ACCOUNTS_LOCKED if name == "postgresql" else _ACCOUNTS,
            "card_accounts": (
                _CARD_ACCOUNTS_LOCKED if name == "postgresql" else _CARD_ACCOUNTS_READ
            ),
            "lot": Prepared(ins(_lot)),
        }
    return found


def ensure_system_accounts() -> None:
    """Create any missing system account (the schema's DDL creates them all; see ddl.py)."""
    db.connection().execute(_statements()["system_account"], list(_SYSTEM_ROWS.values()))


def find_posted(key: str, req_hash: str) -> Transaction | None:
    """The transaction already posted under ``key``, or None; a different request is refused."""
    rows = _FIND.rows(db.connection(), {"key": key})
    if not rows:
        return None
    row = rows[0]
    return earlier_posting(row.id, row.request_hash, req_hash)


def earlier_posting(
    txn_id: int | None, stored_hash: str | None, req_hash: str
) -> Transaction | None:
    """What :func:`find_posted` answers, from a key check the caller made in its own statement."""
    if txn_id is None:
        return None
    if stored_hash != req_hash:
        raise IdempotencyConflict(
            "this idempotency key was already used for a different request",
            transaction_id=txn_id,
        )
    return db.session.get(Transaction, txn_id)


def key_check(key_param: str = "key") -> tuple[Any, Any]:
    """(id, request hash) of the transaction posted under a key, as two scalar subqueries:
    columns another statement can carry, so a posting's key check costs no round trip."""
    where = _txn.c.idempotency_key == bindparam(key_param)
    return (
        select(_txn.c.id).where(where).scalar_subquery().label("posted_id"),
        select(_txn.c.request_hash).where(where).scalar_subquery().label("posted_hash"),
    )


def lock_card_accounts(
    card_ids: Iterable[int], assets: Iterable[str]
) -> dict[tuple[int, str], Any]:
    """Each (card, asset) account as a row (id, card_id, asset, balance), created if missing.

    On PostgreSQL the rows are locked (``FOR UPDATE``, in id order so two
    postings over the same cards can never deadlock) until commit; on SQLite
    the whole write transaction is already exclusive (BEGIN IMMEDIATE).
    """
    card_ids, assets = sorted(set(card_ids)), sorted(set(assets))
    for a in assets:
        if a not in ASSETS:
            raise InvalidRequest(f"unknown asset {a!r}", field="asset")
    conn, stmts = db.connection(), _statements()

    def read() -> dict[tuple[int, str], Any]:
        if len(card_ids) == 1:
            found = stmts["card_accounts"].rows(conn, {"card": card_ids[0]})
        else:
            found = conn.execute(stmts["accounts"], {"cards": card_ids, "assets": assets})
        return {(r.card_id, r.asset): r for r in found}

    rows = read()
    missing = [(c, a) for c in card_ids for a in assets if (c, a) not in rows]
    if missing:
        conn.execute(stmts["account"], [{"card_id": c, "asset": a} for c, a in missing])
        rows = read()
    return rows


def locking_read(
    columns: Sequence[Any], fields: Sequence[str], *, card: HolderRead | None = None
) -> dict[str, Prepared]:
    """Per dialect: one card's accounts read (and locked) as :func:`lock_card_accounts`
    does, with ``columns`` (uncorrelated scalar subqueries, named ``fields``) beside
    them, so a posting's other reads ride on its lock's round trip.

    The card is the parameter ``card`` (its id), or, given ``card``, the row that
    ``app.cards``' statement piece finds (by its own parameters): its columns come
    first in each row and only the accounts are locked. A card with no accounts
    yet then gives no row at all."""
    account_columns = (_account.c.id, _account.c.card_id, _account.c.asset, _account.c.balance)
    if card is None:
        base = select(*account_columns, *columns).where(_account.c.card_id == bindparam("card"))
        fields = (*_ACCOUNT_FIELDS, *fields)
    else:
        holder = card.subquery
        base = select(
            *(holder.c[name] for name in card.fields), *account_columns, *columns
        ).select_from(holder.join(_account, _account.c.card_id == holder.c[card.card_id]))
        fields = (*card.fields, *_ACCOUNT_FIELDS, *fields)
    base = base.order_by(_account.c.id)
    return {
        "postgresql": Prepared(base.with_for_update(of=_account), fields=fields),
        "sqlite": Prepared(base, fields=fields),
    }


def lock_card_accounts_with(
    card_id: int, assets: Iterable[str], read: Mapping[str, Prepared], params: Mapping[str, Any]
) -> tuple[dict[tuple[int, str], Any], Any]:
    """:func:`lock_card_accounts` for one card with a :func:`locking_read`: (the accounts,
    a row with the extra columns, or None when the card had no accounts yet)."""
    conn = db.connection()
    rows = read[conn.dialect.name].rows(conn, {**params, "card": card_id})
    accounts = {(r.card_id, r.asset): r for r in rows}
    first = rows[0] if rows else None
    if first is not None and all((card_id, a) in accounts for a in assets):
        return accounts, first
    return lock_card_accounts([card_id], assets), first


def post(
    kind: str,
    key: str,
    entries: Sequence[Entry],
    *,
    request: Any = None,
    reason: str | None = None,
    store_id: int | None = None,
    station: str | None = None,
    actor: str | None = None,
    external_ref: str | None = None,
    reverses_id: int | None = None,
    card_id: int | None = None,
    member_id: int | None = None,
    amount_fen: int = 0,
    discount_fen: int = 0,
    charged_fen: int = 0,
    details: Mapping[str, Any] | None = None,
    accounts: Mapping[tuple[int, str], Any] | None = None,
    key_checked: bool = False,
    req_hash: str | None = None,
) -> Posting:
    """Post one journal transaction, once per ``key``; see the module docstring.

    ``request`` is what the caller was asked (hashed to recognise a replay; by
    default the entries). ``accounts`` may hand in rows from
    :func:`lock_card_accounts` that the caller already locked; ``key_checked``
    says the caller already ran :func:`find_posted` for this key in this
    transaction, and ``req_hash`` is ``request``'s hash if the caller has it.
    Returns the :class:`Posting`; raises ``InsufficientFunds`` (nothing is
    written once the caller's transaction rolls back), ``IdempotencyConflict``
    or ``InvalidRequest``.
    """
    if not key or len(key) > MAX_JOURNAL_KEY_CHARS:
        raise InvalidRequest(
            f"an idempotency key is 1 to {MAX_JOURNAL_KEY_CHARS} characters",
            field="idempotency_key",
        )
    _validate(entries)
    if req_hash is None:
        req_hash = request_hash(
            request if request is not None else [_entry_dict(e) for e in entries]
        )
    if not key_checked:
        earlier = find_posted(key, req_hash)
        if earlier is not None:
            return Posting(earlier, replayed=True)
    card_keys = {(e.card_id, e.asset) for e in entries if e.card_id is not None}
    if card_keys and (accounts is None or not card_keys <= set(accounts)):
        # Locked before the transaction row: a concurrent duplicate then waits here for
        # the first to commit, and its INSERT below finds the key and replays.
        accounts = lock_card_accounts({c for c, _ in card_keys}, {a for _, a in card_keys})

    values = {
        "kind": kind,
        "reason": reason,
        "idempotency_key": key,
        "request_hash": req_hash,
        "store_id": store_id,
        "station": station,
        "actor": actor,
        "external_ref": external_ref,
        "reverses_id": reverses_id,
        "card_id": card_id,
        "member_id": member_id,
        "amount_fen": amount_fen,
        "discount_fen": discount_fen,
        "charged_fen": charged_fen,
        "details": dict(details or {}),
        "created_at": utcnow(),
    }
    txn_id = _statements()["txn"].scalar(db.connection(), values)
    if txn_id is None:
        # A concurrent posting with this key committed first: answer as it did.
        earlier = find_posted(key, req_hash)
        if earlier is None:  # pragma: no cover - the conflicting row must be visible now
            raise LedgerCorrupt(f"idempotency key {key!r} conflicted but is not visible")
        return Posting(earlier, replayed=True)
    # The row as an object for receivers of transaction_posted, without reading it back.
    # It stays out of the session: the row is append-only, so nothing is ever flushed
    # from it, and a rolled-back savepoint cannot leave a stale copy behind. Made as
    # the ORM makes a loaded row (attributes set, no constructor events): a twentieth
    # of ``Transaction(**values)``'s cost, on every posting.
    txn = Transaction.__mapper__.class_manager.new_instance()
    txn.__dict__.update(values, id=txn_id)

    posted = _apply(txn_id, entries, accounts, txn.created_at)
    return Posting(txn, replayed=False, lines=posted)


def _validate(entries: Sequence[Entry]) -> None:
    sums: dict[str, int] = {}
    for e in entries:
        if e.asset not in ASSETS:
            raise InvalidRequest(f"unknown asset {e.asset!r}", field="asset")
        if not isinstance(e.amount, int) or isinstance(e.amount, bool) or e.amount == 0:
            raise InvalidRequest("a line's amount is a non-zero whole number", field="amount")
        if (e.card_id is None) == (e.system is None):
            raise InvalidRequest("a line names a card or a system account", field="account")
        if e.lots is not None and sum(a for _, a in e.lots) != -e.amount:
            raise InvalidRequest("the lots used must add up to the line", field="lots")
        sums[e.asset] = sums.get(e.asset, 0) + e.amount
    unbalanced = {a: s for a, s in sums.items() if s}
    if unbalanced:
        raise InvalidRequest("a transaction's lines must sum to zero per asset", sums=unbalanced)


def _entry_dict(e: Entry) -> dict[str, Any]:
    return {
        "asset": e.asset,
        "amount": e.amount,
        "card": e.card_id,
        "system": e.system,
        "expires_on": e.expires_on,
        "lots": e.lots,
    }


def _apply(
    txn_id: int,
    entries: Sequence[Entry],
    accounts: Mapping[tuple[int, str], Any] | None,
    now: dt.datetime,
) -> list[PostedLine]:
    """Write the lines: balances, lines, new lots, lots used. Few statements, whatever the size.

    1. One UPDATE moves every card account of the posting (the net amount per
       account), with each debit's floor in its WHERE; an account missing from
       RETURNING is short, and the refusal rolls the whole unit of work back.
    2. One INSERT writes all lines (and, on PostgreSQL, the new lots in the same
       statement); its rows are matched back by (account, balance after), which
       is unique per card line, never by the order the database returns them in.
    3. Debits then consume lots, in the entries' order; a debit never takes from
       a lot that a later entry of the same posting opened.
    """
    conn = db.connection()
    accounts = accounts or {}

    # Per account: the net amount, and the deepest dip below the starting balance
    # along the entries' order. Checking "balance + net >= floor + (net - dip)" in one
    # statement is the same as checking every debit in turn: a posting can never
    # spend what one of its own later lines gives (a purchase's points pay no offset).
    net: dict[int, int] = {}
    dip: dict[int, int] = {}
    floor: dict[int, int] = {}
    for e in entries:
        if e.card_id is not None:
            account_id = accounts[(e.card_id, e.asset)].id
            net[account_id] = net.get(account_id, 0) + e.amount
            dip[account_id] = min(dip.get(account_id, 0), net[account_id])
            floor[account_id] = min(floor.get(account_id, 0), -e.overdraft)
    final: dict[int, int] = {}
    if net:
        ids = sorted(net)  # a fixed order: two postings never lock rows in opposite orders
        params: dict[str, Any] = {}
        for n, account_id in enumerate(ids):
            params[f"i{n}"] = account_id
            params[f"m{n}"] = net[account_id]
            params[f"f{n}"] = (
                floor[account_id] + net[account_id] - dip[account_id]
                if dip[account_id] < 0
                else NO_FLOOR
            )
        final = {r.id: int(r.balance) for r in _balance_update(len(ids)).rows(conn, params)}
        short = [i for i in ids if i not in final]
        if short:
            asset, have = next(
                (row.asset, int(row.balance)) for row in accounts.values() if row.id == short[0]
            )
            raise InsufficientFunds(
                f"not enough {asset.replace('_', ' ')} on the card",
                asset=asset,
                needed=-dip[short[0]],
                available=have - floor[short[0]],
            )

    # Each card line's balance after it: the final balance less the lines after it.
    posted: list[PostedLine] = []
    running = dict(final)
    for e in reversed(entries):
        if e.card_id is None:
            assert e.system is not None
            posted.append(
                PostedLine(system_account_id(e.system, e.asset), None, e.asset, e.amount, None)
            )
            continue
        account_id = accounts[(e.card_id, e.asset)].id
        posted.append(PostedLine(account_id, e.card_id, e.asset, e.amount, running[account_id]))
        running[account_id] -= e.amount
    posted.reverse()
    if not posted:
        return posted  # a cash purchase that earned nothing: the record alone

    new_lots = [
        (e, p)
        for e, p in zip(entries, posted, strict=True)
        if e.asset == "points" and e.card_id is not None and e.lots is None and e.amount > 0
    ]
    lot_rows = [
        {
            "account_id": p.account_id,
            "balance_after": p.balance_after,
            "amount": e.amount,
            "earned_at": e.earned_at or now,
            "expires_on": e.expires_on,
            "moved_from_id": e.moved_from_lot_id,
        }
        for e, p in new_lots
    ]
    together = False
    if conn.dialect.name == "postgresql":
        together = len(lot_rows) == 1
        params = {
            "t": [txn_id] * len(posted),
            "a": [p.account_id for p in posted],
            "s": [p.asset for p in posted],
            "m": [p.amount for p in posted],
            "b": [p.balance_after for p in posted],
        }
        if together:
            params.update({f"lot_{k}": v for k, v in lot_rows[0].items()})
        returned = _lines_insert(with_lot=together).rows(conn, params)
    else:
        # SQLite: one multi-row INSERT.
        params = {}
        for n, p in enumerate(posted):
            params[f"transaction_id_{n}"] = txn_id
            params[f"account_id_{n}"] = p.account_id
            params[f"asset_{n}"] = p.asset
            params[f"amount_{n}"] = p.amount
            params[f"balance_after_{n}"] = p.balance_after
        returned = _sqlite_lines(len(posted)).rows(conn, params)
    line_ids = {
        (r.account_id, r.balance_after): r.id for r in returned if r.balance_after is not None
    }
    for p in posted:
        if p.card_id is not None:
            p.line_id = line_ids[(p.account_id, p.balance_after)]
    if lot_rows and not together:
        lot_params = [
            {
                "account_id": p.account_id,
                "line_id": p.line_id,
                "amount": e.amount,
                "remaining": e.amount,
                "earned_at": e.earned_at or now,
                "expires_on": e.expires_on,
                "moved_from_id": e.moved_from_lot_id,
            }
            for e, p in new_lots
        ]
        if len(lot_params) == 1:
            _statements()["lot"].rows(conn, lot_params[0])
        else:
            conn.execute(_NEW_LOT, lot_params)

    opened_later: list[int] = []  # lines (in reverse) whose lots a debit must not take
    debits: list[tuple[Entry, PostedLine, list[int]]] = []
    for e, p in reversed(list(zip(entries, posted, strict=True))):
        if e.asset != "points" or e.card_id is None:
            continue
        if e.lots is None and e.amount > 0:
            opened_later.append(p.line_id)
        else:
            debits.append((e, p, list(opened_later)))
    for e, p, exclude in reversed(debits):
        p.lot_uses = (
            list(e.lots)
            if e.lots is not None
            else _choose_lots(p.account_id, -e.amount, e.prefer_lots, exclude)
        )
        conn.execute(_USE_LOT, [{"lot": lot, "used": amount} for lot, amount in p.lot_uses])
        conn.execute(
            _LOT_USE,
            [{"line_id": p.line_id, "lot_id": lot, "amount": amount} for lot, amount in p.lot_uses],
        )
    return posted


def _choose_lots(
    account_id: int, points: int, prefer: Sequence[int] = (), exclude_lines: Sequence[int] = ()
) -> list[tuple[int, int]]:
    """The lots a debit of ``points`` uses: ``prefer`` first, then expiring first,
    never-expiring last, then oldest; never lots opened by ``exclude_lines``."""
    stmt = (
        select(_lot.c.id, _lot.c.remaining)
        .where(_lot.c.account_id == account_id, _lot.c.remaining > 0)
        .order_by(_lot.c.expires_on.is_(None), _lot.c.expires_on, _lot.c.earned_at, _lot.c.id)
    )
    if exclude_lines:
        stmt = stmt.where(_lot.c.line_id.not_in(exclude_lines))
    if dialect() == "postgresql":
        stmt = stmt.with_for_update()
    chosen: list[tuple[int, int]] = []
    left = points
    rows = [(r[0], int(r[1])) for r in db.connection().execute(stmt)]
    if prefer:
        rank = {lot_id: n for n, lot_id in enumerate(prefer)}
        rows.sort(key=lambda r: rank.get(r[0], len(rank)))
    for lot_id, remaining in rows:
        take = min(left, int(remaining))
        chosen.append((lot_id, take))
        left -= take
        if not left:
            return chosen
    raise LedgerCorrupt(f"account {account_id}: balance covers {points} points but its lots do not")


# --- conveniences for the rules, redemptions and gifts --------------------------------


def credit_points(
    card: Any,
    points: int,
    *,
    kind: str,
    key: str,
    expires_on: dt.date | None,
    reason: str | None = None,
    store_id: int | None = None,
    actor: str | None = None,
    external_ref: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> Posting:
    """Give a card ``points`` (from ``issued``) in a new lot expiring after ``expires_on``."""
    if points <= 0:
        raise InvalidRequest("points to credit must be positive", field="points")
    return post(
        kind,
        key,
        from_issued("points", points, card.id, expires_on=expires_on),
        reason=reason,
        store_id=store_id,
        actor=actor,
        external_ref=external_ref,
        card_id=card.id,
        member_id=card.member_id,
        details=details,
    )


def debit_points(
    card: Any,
    points: int,
    *,
    kind: str,
    key: str,
    reason: str | None = None,
    store_id: int | None = None,
    actor: str | None = None,
    external_ref: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> Posting:
    """Spend ``points`` of a card (to ``spent``), expiring lots first; refused if short."""
    if points <= 0:
        raise InvalidRequest("points to debit must be positive", field="points")
    return post(
        kind,
        key,
        [
            Entry("points", -points, card_id=card.id),
            Entry("points", points, system="spent"),
        ],
        reason=reason,
        store_id=store_id,
        actor=actor,
        external_ref=external_ref,
        card_id=card.id,
        member_id=card.member_id,
        details=details,
    )


def lot_uses_of(transaction_id: int) -> list[tuple[int, int]]:
    """(lot_id, amount) the points lines of a transaction used (positive consumed)."""
    rows = db.session.execute(
        select(_lot_use.c.lot_id, _lot_use.c.amount)
        .join(_line, _line.c.id == _lot_use.c.line_id)
        .where(and_(_line.c.transaction_id == transaction_id))
        .order_by(_lot_use.c.id)
    )
    return [(r.lot_id, int(r.amount)) for r in rows]
