"""``points``: points issued, redeemed and expired per day (the points-change report).

Read from the journal's lines on the points asset's system accounts, which see every
change of members' points from the other side:

- ``issued`` (counterparty of every points credit): a line below zero is points
  issued (earned on a purchase, a signup or referral gift, a manual credit); above
  zero is points taken back (a refund's clawback, a manual debit).
- ``spent``: above zero is points redeemed (a gift, a coupon, a checkout's offset or
  payment); below zero is points given back (a refund of a purchase paid with points).
- ``breakage``: points expired (and those a returned card forfeits).

Net is what members hold more at the end of the day than at its start. A day is the
shop's local day; every day of the range has a row, quiet days at zero. With a store
filter only postings made at those stores count: expiry belongs to no store.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from sqlalchemy import Executable, and_, case, func, select
from sqlalchemy.orm import Session

from app.ledger.models import Line, Transaction, system_account_id
from app.reports import ledger_sql as sql
from app.reports.base import Chart, Column, Report, ReportParams

NAME = "points"
ISSUED = system_account_id("issued", "points")
SPENT = system_account_id("spent", "points")
BREAKAGE = system_account_id("breakage", "points")
FIGURES = ("issued", "taken_back", "redeemed", "returned", "expired")


def _when(condition: Any, value: Any) -> Any:
    return func.coalesce(func.sum(case((condition, value), else_=0)), 0)


def queries(params: ReportParams, dialect: str) -> dict[str, tuple[Executable, dict[str, Any]]]:
    bound = sql.values(params, per_day=True)
    form = sql.shape(params, dialect, per_day=True)
    return {k: (s, bound) for k, s in statements(form).items()}


@lru_cache(maxsize=64)
def statements(form: sql.Shape) -> dict[str, Executable]:
    where = sql.transactions_in(form)
    days = sql.day_table(form.days)
    # The lines of the range's transactions lie between the first and the last of their
    # transaction ids: a range of ix_ledger_line_transaction_id however big the journal.
    # ``id + 0``: PostgreSQL would otherwise answer min(id) by walking the primary key
    # from one end until a row falls in the range (the whole journal after an old month);
    # this way it reads the range of ix_ledger_transaction_created_at_id, ids included.
    some_id = Transaction.id + 0
    first = select(func.min(some_id)).where(*where).scalar_subquery()
    last = select(func.max(some_id)).where(*where).scalar_subquery()
    account, amount = Line.account_id, Line.amount
    per_day = (
        select(
            days.c.day,
            _when((account == ISSUED) & (amount < 0), -amount).label("issued"),
            _when((account == ISSUED) & (amount > 0), amount).label("taken_back"),
            _when((account == SPENT) & (amount > 0), amount).label("redeemed"),
            _when((account == SPENT) & (amount < 0), -amount).label("returned"),
            _when(account == BREAKAGE, amount).label("expired"),
        )
        .select_from(Line)
        .join(Transaction, Transaction.id == Line.transaction_id)
        .join(
            days,
            and_(
                Transaction.created_at >= days.c.day_start, Transaction.created_at < days.c.day_end
            ),
        )
        .where(
            *where,
            sql.one_of(Line.account_id, (ISSUED, SPENT, BREAKAGE)),
            Line.transaction_id.between(first, last),
        )
        .group_by(days.c.day)
    )
    return {"per_day": per_day}


def report(session: Session, params: ReportParams) -> Report:
    sql.check(params)
    stmts = queries(params, sql.dialect_of(session))
    found = {str(r.day): r for r in sql.execute(session, *stmts["per_day"])}
    every_day = []
    for day in sql.days(params):
        r = found.get(day.isoformat())
        row: dict[str, Any] = {"day": day}
        row.update({f: int(getattr(r, f)) if r is not None else 0 for f in FIGURES})
        row["net"] = row["issued"] - row["taken_back"] - row["redeemed"] + row["returned"]
        row["net"] -= row["expired"]
        every_day.append(row)
    with sql.labels(params) as _:
        return Report(
            name=NAME,
            title=_("Points issued, redeemed and expired"),
            columns=[
                Column("day", _("Date"), "date"),
                Column("issued", _("Points issued"), "points"),
                Column("taken_back", _("Points taken back"), "points"),
                Column("redeemed", _("Points redeemed"), "points"),
                Column("returned", _("Points given back"), "points"),
                Column("expired", _("Points expired"), "points"),
                Column("net", _("Net change in points"), "points"),
            ],
            rows=sql.page_of(every_day, params),
            total_rows=len(every_day),
            chart=Chart("line", "day", ("issued", "redeemed", "expired"), rows=every_day),
            summary=[
                (_(label), sum(row[key] for row in every_day), "points")
                for key, label in (
                    ("issued", "Points issued"),
                    ("taken_back", "Points taken back"),
                    ("redeemed", "Points redeemed"),
                    ("returned", "Points given back"),
                    ("expired", "Points expired"),
                    ("net", "Net change in points"),
                )
            ],
        )
