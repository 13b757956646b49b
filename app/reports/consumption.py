"""``consumption``: checkout records, with the products and categories they sold.

The table is the range's checkouts, newest first: when, store, member (masked phone),
list price, discount, charged, how it was paid. The summary gives the totals and the
categories' sales; the chart ranks the ten best-selling products (SKU) by list price.

Products and categories come from the checkout's ``details.items`` (each line's ``sku``,
``category``, ``amount_fen`` — the line's list price, quantity applied — and
``quantity``), unnested in SQL (``json_array_elements`` on PostgreSQL, ``json_each`` on
SQLite). A checkout without items counts in the totals, not in the rankings; refunds are
money, not lines, so the rankings are of what was sold.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Executable,
    case,
    cast,
    column,
    func,
    literal_column,
    select,
)
from sqlalchemy.orm import Session

from app import clock
from app.ledger.models import Transaction
from app.members.models import Member
from app.reports import ledger_sql as sql
from app.reports.base import Chart, Column, Report, ReportParams
from app.stores.models import Store

NAME = "consumption"
#: Products in the chart, categories in the summary.
TOP_PRODUCTS = 10
TOP_CATEGORIES = 8
#: Inline, not a parameter: PostgreSQL matches GROUP BY to the SELECT by the text.
NONE: Any = literal_column("''")


def _items(dialect: str) -> tuple[Any, Any, Any, Any, Any]:
    """(the unnested items to join, sku, category, amount_fen, quantity) for ``dialect``."""
    if dialect == "postgresql":
        items = Transaction.details["items"]
        array = case(
            (func.json_typeof(items) == "array", items), else_=literal_column("'[]'::json")
        )
        item = func.json_array_elements(array).table_valued(column("value", JSON)).lateral("item")
        value = item.c.value
        return (
            item,
            value["sku"].as_string(),
            value["category"].as_string(),
            cast(value["amount_fen"].as_string(), BigInteger),
            cast(value["quantity"].as_string(), BigInteger),
        )
    item = (
        func.json_each(Transaction.details, "$.items").table_valued("value", "type").alias("item")
    )
    return (
        item,
        func.json_extract(item.c.value, "$.sku"),
        func.json_extract(item.c.value, "$.category"),
        func.json_extract(item.c.value, "$.amount_fen"),
        func.json_extract(item.c.value, "$.quantity"),
    )


def queries(params: ReportParams, dialect: str) -> dict[str, tuple[Executable, dict[str, Any]]]:
    bound = sql.values(params)
    return {k: (s, bound) for k, s in statements(sql.shape(params, dialect)).items()}


@lru_cache(maxsize=64)
def statements(form: sql.Shape) -> dict[str, Executable]:
    dialect = form.dialect
    where = sql.transactions_in(form, "checkout")
    rows = sql.paged(
        select(
            Transaction.id.label("id"),
            sql.unconverted(Transaction.created_at, form.dialect).label("at"),
            Store.name.label("store"),
            sql.masked_phone(),
            Transaction.amount_fen.label("amount_fen"),
            Transaction.discount_fen.label("discount_fen"),
            Transaction.charged_fen.label("charged_fen"),
            Transaction.details["pay_with"].as_string().label("pay_with"),
            # A split tender (stored value + cash) names its card part; other sales do not.
            Transaction.details["stored_value_fen"].as_string().label("split"),
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
        func.coalesce(func.sum(Transaction.discount_fen), 0),
        func.coalesce(func.sum(Transaction.charged_fen), 0),
    ).where(*where)
    item, sku, category, amount, quantity = _items(dialect)
    on = literal_column("true") if dialect == "postgresql" else item.c.type == "object"
    sold = func.sum(amount).label("amount_fen")
    units = func.sum(func.coalesce(quantity, 1)).label("quantity")
    products = (
        select(func.coalesce(sku, NONE).label("sku"), units, sold)
        .select_from(Transaction)
        .join(item, on)
        .where(*where)
        .group_by(func.coalesce(sku, NONE))
        .order_by(sold.desc(), func.coalesce(sku, NONE))
        .limit(TOP_PRODUCTS)
    )
    categories = (
        select(func.coalesce(category, NONE).label("category"), units, sold)
        .select_from(Transaction)
        .join(item, on)
        .where(*where)
        .group_by(func.coalesce(category, NONE))
        .order_by(sold.desc(), func.coalesce(category, NONE))
        .limit(TOP_CATEGORIES)
    )
    return {"rows": rows, "totals": totals, "products": products, "categories": categories}


def report(session: Session, params: ReportParams) -> Report:
    sql.check(params)
    stmts = queries(params, sql.dialect_of(session))
    count, amount, discount, charged = sql.execute(session, *stmts["totals"])[0]
    with sql.labels(params) as _:
        paid_by = {
            "cash": _("Cash"),
            "stored_value": _("Stored value"),
            "points": _("Points"),
            "visits": _("Count card"),
        }
        split_paid = _("Stored value + cash")
        anonymous, zone = _("Anonymous card"), clock.zone()
        # Unpacked, not read by name: the CSV is every row of the month (see ledger_sql).
        rows = [
            {
                "id": str(txn),
                "at": at.astimezone(zone),
                "store": store or "",
                "member": member or anonymous,
                "amount_fen": amount_fen,
                "discount_fen": discount_fen,
                "charged_fen": charged_fen,
                "pay_with": split_paid if split else paid_by.get(pay_with, pay_with or ""),
            }
            for txn, at, store, member, amount_fen, discount_fen, charged_fen, pay_with, split in (
                sql.execute(session, *stmts["rows"])
            )
        ]
        products = [
            {
                "sku": r.sku or _("(no SKU)"),
                "quantity": int(r.quantity),
                "amount_fen": int(r.amount_fen),
            }
            for r in sql.execute(session, *stmts["products"])
        ]
        summary: list[tuple[str, Any, Any]] = [
            (_("Checkouts"), int(count), "count"),
            (_("List price"), int(amount), "fen"),
            (_("Discount"), int(discount), "fen"),
            (_("Charged"), int(charged), "fen"),
        ]
        summary += [
            (
                _("Category %(name)s", name=r.category or _("(no category)")),
                int(r.amount_fen),
                "fen",
            )
            for r in sql.execute(session, *stmts["categories"])
        ]
        return Report(
            name=NAME,
            title=_("Consumption records"),
            columns=[
                *sql.transaction_columns(_),
                Column("amount_fen", _("List price"), "fen"),
                Column("discount_fen", _("Discount"), "fen"),
                Column("charged_fen", _("Charged"), "fen"),
                Column("pay_with", _("Paid with")),
            ],
            rows=rows,
            total_rows=int(count),
            chart=Chart("bar", "sku", ("amount_fen",), rows=products) if products else None,
            summary=summary,
        )
