"""``laoyou ledger check``: the journal audited against itself.

Every figure the ledger caches or derives is recomputed from the append-only
lines: a card account's balance is the sum of its lines; every transaction's
lines sum to zero per asset; a points account's balance is the sum of its
lots' remainders; a lot's remainder is its amount less the uses recorded
against it; no card is below zero or below its credit limit. Growth (kept by
the levels) is checked against its own history. Each check is one grouped
query, so the check costs a few scans however many cards there are.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select

from app.cards.models import Card
from app.db import db
from app.ledger.models import Account, Line, PointsLot, PointsLotUse, Transaction
from app.ledger.rules.models import OverdraftLimit


@dataclass
class CheckReport:
    accounts: int = 0
    transactions: int = 0
    lines: int = 0
    lots: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        verdict = "ok" if self.ok else f"{len(self.problems)} problem(s)"
        return (
            f"ledger check: {self.accounts} accounts, {self.transactions} transactions, "
            f"{self.lines} lines, {self.lots} lots: {verdict}"
        )


def run_check() -> CheckReport:
    s = db.session
    count = lambda model: s.scalar(select(func.count()).select_from(model)) or 0  # noqa: E731
    report = CheckReport(
        accounts=count(Account),
        transactions=count(Transaction),
        lines=count(Line),
        lots=count(PointsLot),
    )
    problems = report.problems

    from app.ledger.models import SYSTEM_ACCOUNTS

    present = set(s.scalars(select(Account.id).where(Account.card_id.is_(None))))
    for account_id, code, asset in SYSTEM_ACCOUNTS:
        if account_id not in present:
            problems.append(f"system account {code}/{asset} (id {account_id}) is missing")

    line_sums = (
        select(Line.account_id, func.sum(Line.amount).label("total"))
        .group_by(Line.account_id)
        .subquery()
    )
    for account_id, card_id, asset, cached, total in s.execute(
        select(
            Account.id,
            Account.card_id,
            Account.asset,
            Account.balance,
            func.coalesce(line_sums.c.total, 0),
        )
        .outerjoin(line_sums, line_sums.c.account_id == Account.id)
        .where(Account.card_id.is_not(None), Account.balance != func.coalesce(line_sums.c.total, 0))
        .order_by(Account.id)
    ):
        problems.append(
            f"account {account_id} (card {card_id}, {asset}): cached balance {cached}, "
            f"lines sum to {total}"
        )

    for txn_id, asset, total in s.execute(
        select(Line.transaction_id, Line.asset, func.sum(Line.amount))
        .group_by(Line.transaction_id, Line.asset)
        .having(func.sum(Line.amount) != 0)
        .order_by(Line.transaction_id)
    ):
        problems.append(f"transaction {txn_id}: {asset} lines sum to {total}, not 0")

    lot_sums = (
        select(PointsLot.account_id, func.sum(PointsLot.remaining).label("total"))
        .group_by(PointsLot.account_id)
        .subquery()
    )
    for account_id, balance, remaining in s.execute(
        select(Account.id, Account.balance, func.coalesce(lot_sums.c.total, 0))
        .outerjoin(lot_sums, lot_sums.c.account_id == Account.id)
        .where(
            Account.card_id.is_not(None),
            Account.asset == "points",
            Account.balance != func.coalesce(lot_sums.c.total, 0),
        )
        .order_by(Account.id)
    ):
        problems.append(
            f"account {account_id}: points balance {balance}, its lots hold {remaining}"
        )

    use_sums = (
        select(PointsLotUse.lot_id, func.sum(PointsLotUse.amount).label("used"))
        .group_by(PointsLotUse.lot_id)
        .subquery()
    )
    for lot_id, amount, remaining, used in s.execute(
        select(
            PointsLot.id, PointsLot.amount, PointsLot.remaining, func.coalesce(use_sums.c.used, 0)
        )
        .outerjoin(use_sums, use_sums.c.lot_id == PointsLot.id)
        .where(PointsLot.remaining != PointsLot.amount - func.coalesce(use_sums.c.used, 0))
        .order_by(PointsLot.id)
    ):
        problems.append(f"lot {lot_id}: {amount} less uses {used} is not its remaining {remaining}")

    # The floor is the card's overdraft in force: its own, else the rule for its type
    # (as ``engine.credit_limit``; a rule lowered below a card's debt shows that card here).
    limit_in_force = func.coalesce(
        Card.credit_limit_fen,
        select(OverdraftLimit.credit_limit_fen)
        .where(OverdraftLimit.card_type == Card.type, Card.type == "stored_value")
        .scalar_subquery(),
        0,
    )
    for account_id, card_number, asset, balance, limit in s.execute(
        select(Account.id, Card.number, Account.asset, Account.balance, limit_in_force)
        .join(Card, Card.id == Account.card_id)
        .where(
            (Account.balance < 0)
            & ((Account.asset != "stored_value_paid") | (Account.balance < -limit_in_force))
        )
    ):
        problems.append(
            f"account {account_id} (card {card_number}, {asset}): balance {balance} is below "
            f"its floor ({-limit if asset == 'stored_value_paid' else 0})"
        )

    try:
        from app.ledger.rules.levels import growth_mismatches
    except ImportError:  # pragma: no cover - the levels are part of the ledger
        growth_mismatches = None  # type: ignore[assignment]
    if growth_mismatches is not None:
        for member_id, counter, total in growth_mismatches():
            problems.append(f"member {member_id}: growth {counter}, its history sums to {total}")
    return report
