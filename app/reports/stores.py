"""``stores``: the stores and regions side by side, with today's totals.

Per store (by region, then code): the range's sales (checkouts) and what they charged,
recharges and the money paid in, refunds and the money refunded, net takings (charged
less refunded), members who joined with it as their home store, and today's sales and
charges (today in the shop's zone, whatever the range). The summary adds the range's
totals, net takings per region, and today's totals. A store manager sees only their
stores: ``store_ids`` limits both the stores listed and what is counted.
"""

from __future__ import annotations

from collections import defaultdict
from functools import lru_cache
from typing import Any

from sqlalchemy import Executable, func, select
from sqlalchemy.orm import Session

from app.ledger.models import Transaction
from app.members.models import Member
from app.reports import ledger_sql as sql
from app.reports.base import Chart, Column, Report, ReportParams
from app.stores.models import Store

NAME = "stores"
KINDS = ("checkout", "recharge", "refund")


def _takings(where: list[Any]) -> Any:
    return (
        select(
            Transaction.store_id,
            sql.count_of("checkout").label("sales"),
            sql.sum_of("checkout", Transaction.charged_fen).label("charged_fen"),
            sql.count_of("recharge").label("recharges"),
            sql.sum_of("recharge", Transaction.amount_fen).label("recharged_fen"),
            sql.count_of("refund").label("refunds"),
            sql.sum_of("refund", Transaction.amount_fen).label("refunded_fen"),
        )
        .where(*where)
        .group_by(Transaction.store_id)
    )


def queries(params: ReportParams, dialect: str) -> dict[str, tuple[Executable, dict[str, Any]]]:
    bound = sql.values(params)
    return {k: (s, bound) for k, s in statements(sql.shape(params, dialect)).items()}


@lru_cache(maxsize=64)
def statements(form: sql.Shape) -> dict[str, Executable]:
    stores = select(Store.id, Store.code, Store.name, Store.region).order_by(
        Store.region, Store.code
    )
    joined = select(Member.home_store_id, func.count().label("members")).where(
        sql.in_window(Member.joined_at)
    )
    if form.stores is not None:
        stores = stores.where(sql.one_of(Store.id, form.stores))
        joined = joined.where(sql.one_of(Member.home_store_id, form.stores))
    return {
        "stores": stores,
        "range": _takings(sql.transactions_in(form, *KINDS)),
        "today": _takings(sql.transactions_in(form, "checkout", "recharge", prefix="today_")),
        "joined": joined.group_by(Member.home_store_id),
    }


FIGURES = ("sales", "charged_fen", "recharges", "recharged_fen", "refunds", "refunded_fen")


def report(session: Session, params: ReportParams) -> Report:
    sql.check(params)
    stmts = queries(params, sql.dialect_of(session))
    in_range = {r.store_id: r for r in sql.execute(session, *stmts["range"])}
    today = {r.store_id: r for r in sql.execute(session, *stmts["today"])}
    joined = {r.home_store_id: int(r.members) for r in sql.execute(session, *stmts["joined"])}
    rows = []
    for store in sql.execute(session, *stmts["stores"]):
        found, now = in_range.get(store.id), today.get(store.id)
        row: dict[str, Any] = {"region": store.region, "code": store.code, "store": store.name}
        row.update({f: int(getattr(found, f)) if found is not None else 0 for f in FIGURES})
        row["net_fen"] = row["charged_fen"] - row["refunded_fen"]
        row["new_members"] = joined.get(store.id, 0)
        row["today_sales"] = int(now.sales) if now is not None else 0
        row["today_charged_fen"] = int(now.charged_fen) if now is not None else 0
        row["today_recharged_fen"] = int(now.recharged_fen) if now is not None else 0
        rows.append(row)
    regions: dict[str, int] = defaultdict(int)
    for row in rows:
        regions[row["region"]] += row["net_fen"]
    with sql.labels(params) as _:
        summary: list[tuple[str, Any, Any]] = [
            (_("Sales"), sum(r["sales"] for r in rows), "count"),
            (_("Charged"), sum(r["charged_fen"] for r in rows), "fen"),
            (_("Recharged"), sum(r["recharged_fen"] for r in rows), "fen"),
            (_("Refunded"), sum(r["refunded_fen"] for r in rows), "fen"),
            (_("New members"), sum(r["new_members"] for r in rows), "count"),
        ]
        summary += [
            (_("Region %(name)s: net takings", name=region), net, "fen")
            for region, net in sorted(regions.items())
        ]
        summary += [
            (_("Today: sales"), sum(r["today_sales"] for r in rows), "count"),
            (_("Today: charged"), sum(r["today_charged_fen"] for r in rows), "fen"),
            (_("Today: recharged"), sum(r["today_recharged_fen"] for r in rows), "fen"),
        ]
        return Report(
            name=NAME,
            title=_("Stores and regions"),
            columns=[
                Column("region", _("Region")),
                Column("code", _("Code")),
                Column("store", _("Store")),
                Column("sales", _("Sales"), "count"),
                Column("charged_fen", _("Charged"), "fen"),
                Column("recharges", _("Recharges"), "count"),
                Column("recharged_fen", _("Recharged"), "fen"),
                Column("refunds", _("Refunds"), "count"),
                Column("refunded_fen", _("Refunded"), "fen"),
                Column("net_fen", _("Net takings"), "fen"),
                Column("new_members", _("New members"), "count"),
                Column("today_sales", _("Today: sales"), "count"),
                Column("today_charged_fen", _("Today: charged"), "fen"),
                Column("today_recharged_fen", _("Today: recharged"), "fen"),
            ],
            rows=sql.page_of(rows, params),
            total_rows=len(rows),
            chart=Chart("bar", "store", ("charged_fen", "recharged_fen"), rows=rows)
            if rows
            else None,
            summary=summary,
        )
