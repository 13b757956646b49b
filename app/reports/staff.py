"""``staff``: staff performance, by who posted each transaction.

The journal records who asked in ``ledger_transaction.actor``: ``staff:<username>`` (the
panel), ``apikey:<id>`` (a counter or POS), ``cli`` / ``cli:<os user>`` (the command
line), ``job:<name>`` (the scheduler). Per actor, in the range: transactions of any
kind, sales and what they charged, recharges and the money paid in, refunds and the
money refunded. Staff are shown by display name (with their store), API keys by their
label (else ``API key #id``) and store. The grouping runs first; the few groups are
then joined to ``staff_user`` and ``api_key``, in the same statement.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from sqlalchemy import Executable, String, cast, func, select
from sqlalchemy.orm import Session, aliased

from app.auth.models import ApiKey, StaffUser
from app.ledger.models import Transaction
from app.reports import ledger_sql as sql
from app.reports.base import Chart, Column, Report, ReportParams
from app.stores.models import Store

NAME = "staff"
TOP_CHART = 10
#: The stores of the staff member and of the API key (module level: an alias is costly to make).
staff_store = aliased(Store, name="staff_store")
key_store = aliased(Store, name="key_store")
FIGURES = (
    "transactions",
    "sales",
    "charged_fen",
    "recharges",
    "recharged_fen",
    "refunds",
    "refunded_fen",
)


def queries(params: ReportParams, dialect: str) -> dict[str, tuple[Executable, dict[str, Any]]]:
    bound = sql.values(params)
    return {k: (s, bound) for k, s in statements(sql.shape(params, dialect)).items()}


@lru_cache(maxsize=64)
def statements(form: sql.Shape) -> dict[str, Executable]:
    by_actor = (
        select(
            Transaction.actor.label("actor"),
            func.count().label("transactions"),
            sql.count_of("checkout").label("sales"),
            sql.sum_of("checkout", Transaction.charged_fen).label("charged_fen"),
            sql.count_of("recharge").label("recharges"),
            sql.sum_of("recharge", Transaction.amount_fen).label("recharged_fen"),
            sql.count_of("refund").label("refunds"),
            sql.sum_of("refund", Transaction.amount_fen).label("refunded_fen"),
        )
        .where(*sql.transactions_in(form))
        .group_by(Transaction.actor)
        .subquery("by_actor")
    )
    actors = (
        select(
            by_actor,
            StaffUser.display_name.label("staff_name"),
            StaffUser.username.label("username"),
            staff_store.code.label("staff_store"),
            ApiKey.id.label("key_id"),
            ApiKey.label.label("key_label"),
            key_store.code.label("key_store"),
        )
        .outerjoin(StaffUser, by_actor.c.actor == "staff:" + StaffUser.username)
        .outerjoin(staff_store, staff_store.id == StaffUser.store_id)
        .outerjoin(ApiKey, by_actor.c.actor == "apikey:" + cast(ApiKey.id, String))
        .outerjoin(key_store, key_store.id == ApiKey.store_id)
    )
    return {"actors": actors}


def report(session: Session, params: ReportParams) -> Report:
    sql.check(params)
    stmts = queries(params, sql.dialect_of(session))
    with sql.labels(params) as _:
        rows = []
        for r in sql.execute(session, *stmts["actors"]):
            actor = r.actor or ""
            if r.username is not None:
                who, kind, store = f"{r.staff_name} ({r.username})", _("Staff"), r.staff_store
            elif r.key_id is not None:
                who = r.key_label or _("API key #%(id)s", id=r.key_id)
                kind, store = _("API key"), r.key_store
            elif actor.startswith("cli"):
                who, kind, store = actor, _("Command line"), None
            elif actor.startswith("job:"):
                who, kind, store = actor.removeprefix("job:"), _("Scheduled job"), None
            else:
                who, kind, store = actor or _("(not recorded)"), _("Other"), None
            row: dict[str, Any] = {"who": who, "kind": kind, "store": store or "", "actor": actor}
            row.update({f: int(getattr(r, f)) for f in FIGURES})
            rows.append(row)
        rows.sort(key=lambda row: (-row["charged_fen"], -row["transactions"], row["actor"]))
        return Report(
            name=NAME,
            title=_("Staff performance"),
            columns=[
                Column("who", _("Staff member")),
                Column("kind", _("Type")),
                Column("store", _("Store")),
                Column("actor", _("Recorded as")),
                Column("transactions", _("All transactions"), "count"),
                Column("sales", _("Sales"), "count"),
                Column("charged_fen", _("Charged"), "fen"),
                Column("recharges", _("Recharges"), "count"),
                Column("recharged_fen", _("Recharged"), "fen"),
                Column("refunds", _("Refunds"), "count"),
                Column("refunded_fen", _("Refunded"), "fen"),
            ],
            rows=sql.page_of(rows, params),
            total_rows=len(rows),
            chart=Chart("bar", "who", ("charged_fen", "recharged_fen"), rows=rows[:TOP_CHART])
            if rows
            else None,
            summary=[
                (_("Staff and keys"), len(rows), "count"),
                (_("All transactions"), sum(r["transactions"] for r in rows), "count"),
                (_("Charged"), sum(r["charged_fen"] for r in rows), "fen"),
            ],
        )
