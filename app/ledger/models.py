"""The journal's tables: accounts, transactions, lines, points lots and the lots each debit used.

Sign convention: every account's balance is the plain sum of its lines. A
card's accounts are positive while it holds value; the system accounts are the
counterparties and run negative (``issued``) or positive (``spent``,
``breakage``). Every transaction's lines sum to zero per asset.

What the database itself enforces (see also ``ddl.py`` for PostgreSQL):

* a line's asset is its account's asset (composite foreign key), amounts are
  never zero, lots never go below zero or above what they started with;
* a card account never goes below zero, except stored value paid in (透支,
  bounded by the card's credit limit in the posting's checked UPDATE);
* the idempotency key of a transaction is unique;
* on PostgreSQL: lines sum to zero per (transaction, asset) at commit, and lines
  and transactions can be neither updated nor deleted.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, utcnow
from app.limits import MAX_JOURNAL_KEY_CHARS

#: What an account holds. Money in fen, points and visits in units. Growth (成长值)
#: is open for the levels: it is never spent.
ASSETS = ("points", "stored_value_paid", "stored_value_bonus", "visits", "growth")
STORED_VALUE = ("stored_value_paid", "stored_value_bonus")

#: System accounts, one per (code, asset), with fixed negative ids so a posting
#: never has to look them up. ``issued``: where value comes from (points issued,
#: money received for stored value, bonus expense, visits sold); ``spent``: where
#: value goes when used (revenue, points redeemed); ``breakage``: expired value.
SYSTEM_CODES = ("issued", "spent", "breakage")


def system_account_id(code: str, asset: str) -> int:
    return -(SYSTEM_CODES.index(code) * len(ASSETS) + ASSETS.index(asset) + 1)


SYSTEM_ACCOUNTS = [
    (system_account_id(code, asset), code, asset) for code in SYSTEM_CODES for asset in ASSETS
]


class Account(Base):
    """A card's holding of one asset, or a system counterparty.

    ``balance`` is a cache of the sum of the account's lines, kept in the same
    database transaction by a checked UPDATE; ``laoyou ledger check`` verifies
    it. System accounts keep no cache (always 0 here): every posting in the
    chain touches them, and updating one hot row would serialise all counters.
    """

    __tablename__ = "ledger_account"
    __table_args__ = (
        CheckConstraint(f"asset IN {ASSETS}", name="asset"),
        CheckConstraint("(card_id IS NULL) <> (code IS NULL)", name="card_or_system"),
        CheckConstraint(
            "card_id IS NULL OR asset = 'stored_value_paid' OR balance >= 0",
            name="card_balance_nonnegative",
        ),
        UniqueConstraint("card_id", "asset"),
        UniqueConstraint("code", "asset"),
        # Target of the lines' composite foreign key: a line's asset is its account's.
        UniqueConstraint("id", "asset", name="uq_ledger_account_id_asset"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    card_id: Mapped[int | None] = mapped_column(ForeignKey("card.id"))
    #: System accounts only: issued, spent, breakage.
    code: Mapped[str | None] = mapped_column(String(16))
    asset: Mapped[str] = mapped_column(String(24))
    #: Cached sum of the lines (card accounts); fen for stored value.
    balance: Mapped[int] = mapped_column(BigInteger, default=0)


class Transaction(Base):
    """One posting: why, where, who, and a key that makes it happen once."""

    __tablename__ = "ledger_transaction"
    __table_args__ = (
        CheckConstraint("amount_fen >= 0", name="amount_nonnegative"),
        CheckConstraint("discount_fen >= 0", name="discount_nonnegative"),
        CheckConstraint("charged_fen >= 0", name="charged_nonnegative"),
        Index("ix_ledger_transaction_member_id_id", "member_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: checkout, recharge, refund, load, transfer, expiry, redemption, gift, adjustment…
    kind: Mapped[str] = mapped_column(String(24))
    #: Finer reason code, e.g. a rule code or ``signup_gift``.
    reason: Mapped[str | None] = mapped_column(String(64))
    #: The caller's key (HTTP Idempotency-Key, MsgId, run key): one posting per key.
    #: Up to MAX_JOURNAL_KEY_CHARS: a caller's 200-character key plus its scope (``api:7:``).
    idempotency_key: Mapped[str] = mapped_column(String(MAX_JOURNAL_KEY_CHARS), unique=True)
    #: SHA-256 of the request that made it; the same key with another request is refused.
    request_hash: Mapped[str] = mapped_column(String(64))
    store_id: Mapped[int | None] = mapped_column(ForeignKey("store.id"))
    #: The counter PC or POS terminal, as the caller names it.
    station: Mapped[str | None] = mapped_column(String(64))
    #: Who asked: ``apikey:7``, ``staff:3``, ``cli``, ``job:expire``.
    actor: Mapped[str | None] = mapped_column(String(64))
    #: The caller's own reference (POS receipt number, order id).
    external_ref: Mapped[str | None] = mapped_column(String(128))
    #: A correction points at what it corrects (refunds at their purchase).
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_transaction.id"), index=True)
    #: The card and member it concerns (for statements); None for chain-wide runs.
    card_id: Mapped[int | None] = mapped_column(ForeignKey("card.id"), index=True)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("member.id"))
    #: Checkout: list price; recharge / load: money paid in; refund: money refunded.
    amount_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    discount_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    #: Checkout: what the customer paid after discounts and points offset.
    charged_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    #: Operation details: pay_with, rules applied, points earned, level change…
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: Indexed: reports and the dashboard read a day or a month of the journal.
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)


class Line(Base):
    """One leg of a transaction. Append-only."""

    __tablename__ = "ledger_line"
    __table_args__ = (
        CheckConstraint("amount <> 0", name="amount_nonzero"),
        ForeignKeyConstraint(
            ["account_id", "asset"],
            ["ledger_account.id", "ledger_account.asset"],
            name="fk_ledger_line_account_asset",
        ),
        Index("ix_ledger_line_account_id_id", "account_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    transaction_id: Mapped[int] = mapped_column(ForeignKey("ledger_transaction.id"), index=True)
    account_id: Mapped[int] = mapped_column()
    asset: Mapped[str] = mapped_column(String(24))
    #: Signed: positive adds to the account.
    amount: Mapped[int] = mapped_column(BigInteger)
    #: The card account's balance right after this line (None on system accounts).
    balance_after: Mapped[int | None] = mapped_column(BigInteger)


class PointsLot(Base):
    """Points credited together, spent and expired together.

    ``remaining`` is ``amount`` less the uses recorded in ``points_lot_use``;
    debits take the lots that expire first (never-expiring last), then the oldest.
    """

    __tablename__ = "points_lot"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("remaining >= 0 AND remaining <= amount", name="remaining_range"),
        Index("ix_points_lot_account_id_remaining", "account_id", "remaining"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_account.id"))
    #: The line that credited it.
    line_id: Mapped[int] = mapped_column(ForeignKey("ledger_line.id"), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    remaining: Mapped[int] = mapped_column(BigInteger)
    earned_at: Mapped[dt.datetime]
    #: Last day the points can be used; None never expires.
    expires_on: Mapped[dt.date | None]
    #: A lot carried over from a replaced card's lot.
    moved_from_id: Mapped[int | None] = mapped_column(ForeignKey("points_lot.id"))


class PointsLotUse(Base):
    """Which lots a points line used: positive consumed, negative given back (refunds)."""

    __tablename__ = "points_lot_use"
    __table_args__ = (CheckConstraint("amount <> 0", name="amount_nonzero"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("ledger_line.id"), index=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("points_lot.id"), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)


class IdempotencyRecord(Base):
    """An HTTP posting's Idempotency-Key with the response it got, replayed verbatim."""

    __tablename__ = "idempotency_record"
    __table_args__ = (UniqueConstraint("store_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Keys are the caller's: scoped to the API key's store.
    store_id: Mapped[int] = mapped_column(ForeignKey("store.id"))
    key: Mapped[str] = mapped_column(String(200))
    #: SHA-256 of method, path, store and body.
    request_hash: Mapped[str] = mapped_column(String(64))
    #: None while the first request is still running.
    status: Mapped[int | None]
    #: The response body exactly as sent, replayed byte for byte.
    body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


def _attach_ddl() -> None:
    """Have create_all (tests) build what the migration builds: ``ddl.install``."""
    from sqlalchemy import event

    from app.ledger import ddl

    def create(_table: Any, connection: Any, **_kw: Any) -> None:
        ddl.install(connection)

    # The last of the journal's tables: every trigger's table exists by then.
    event.listen(PointsLotUse.__table__, "after_create", create)


_attach_ddl()
