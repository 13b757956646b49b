"""``recharges``: money paid into stored value (充值) and the bonus it brought (充值赠送).

One row per recharge, newest first: when, store, member (masked phone), card, paid,
bonus, and the two together. The summary totals them. Paid is the transaction's
``amount_fen``; the bonus is ``details.bonus_fen`` (the rules' recharge plan), both as
the recharge posted them.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from sqlalchemy import Executable, func, select
from sqlalchemy.orm import Session

from app import clock
from app.ledger.models import Transaction
from app.members.models import Member
from app.reports import ledger_sql as sql
from app.reports.base import Column, Report, ReportParams
from app.stores.models import Store

NAME = "recharges"


def queries(params: ReportParams, dialect: str) -> dict[str, tuple[Executable, dict[str, Any]]]:
    bound = sql.values(params)
    return {k: (s, bound) for k, s in statements(sql.shape(params, dialect)).items()}


@lru_cache(maxsize=64)
def statements(form: sql.Shape) -> dict[str, Executable]:
    where = sql.transactions_in(form, "recharge")
    bonus = func.coalesce(Transaction.details["bonus_fen"].as_integer(), 0)
    rows = sql.paged(
        select(
            Transaction.id.label("id"),
            sql.unconverted(Transaction.created_at, form.dialect).label("at"),
            Store.name.label("store"),
            sql.masked_phone(),
            Transaction.amount_fen.label("paid_fen"),
            bonus.label("bonus_fen"),
        )
        .outerjoin(Store, Store.id == Transaction.store_id)
        .outerjoin(Member, Member.id == Transaction.member_id)
        .where(*where)
        .order_by(Transaction.created_at.desc(), Transaction.id.desc()),
        form,
    )
    totals = select(
        func.count(),
        func.coalesce(func.sum(Transaction.amount_fen), 0),
        func.coalesce(func.sum(bonus), 0),
    ).where(*where)
    return {"rows": rows, "totals": totals}


def report(session: Session, params: ReportParams) -> Report:
    sql.check(params)
    stmts = queries(params, sql.dialect_of(session))
    count, paid, bonus = sql.execute(session, *stmts["totals"])[0]
    with sql.labels(params) as _:
        anonymous, zone = _("Anonymous card"), clock.zone()
        rows = [
            {
                "id": str(txn),
                "at": at.astimezone(zone),
                "store": store or "",
                "member": member or anonymous,
                "paid_fen": paid_fen,
                "bonus_fen": int(bonus_fen),
                "total_fen": paid_fen + int(bonus_fen),
            }
            for txn, at, store, member, paid_fen, bonus_fen in sql.execute(session, *stmts["rows"])
        ]
        return Report(
            name=NAME,
            title=_("Recharge records"),
            columns=[
                *sql.transaction_columns(_),
                Column("paid_fen", _("Paid in"), "fen"),
                Column("bonus_fen", _("Bonus"), "fen"),
                Column("total_fen", _("Stored value added"), "fen"),
            ],
            rows=rows,
            total_rows=int(count),
            summary=[
                (_("Recharges"), int(count), "count"),
                (_("Paid in"), int(paid), "fen"),
                (_("Bonus"), int(bonus), "fen"),
                (_("Stored value added"), int(paid) + int(bonus), "fen"),
            ],
        )
