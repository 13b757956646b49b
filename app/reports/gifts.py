"""The gift reports: ``gift-redemptions``, ``popular-gifts`` and ``gift-stock``.

All three read ``redemption`` (app/ledger/redemption), the receipt each exchange of
points leaves beside its journal transaction: ``gift-redemptions`` lists the range's
exchanges of points (gifts, and coupons taken for points), ``popular-gifts`` ranks the
gifts by the units redeemed in the range, ``gift-stock`` shows every gift on offer with
the stock left now and what the range took. The store filter is the store where the
member redeemed; the stock left is the chain's (one stock per gift).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

from sqlalchemy import Executable, func, select
from sqlalchemy.orm import Session

from app import clock
from app.ledger.redemption.models import Coupon, CouponType, Gift, Redemption
from app.members.models import Member
from app.reports import ledger_sql as sql
from app.reports.base import Chart, Column, Report, ReportParams
from app.stores.models import Store

#: Points exchanged for something; a coupon used at a checkout (``coupon_use``) spends none.
EXCHANGES = ("gift", "coupon_exchange")
TOP_GIFTS = 10


def _redemptions_in(form: sql.Shape, *kinds: str) -> list[Any]:
    where = [sql.in_window(Redemption.created_at), sql.one_of(Redemption.kind, kinds)]
    if form.stores is not None:
        where.append(sql.one_of(Redemption.store_id, form.stores))
    return where


def _bound(
    build: Callable[[sql.Shape], dict[str, Executable]], params: ReportParams, dialect: str
) -> dict[str, tuple[Executable, dict[str, Any]]]:
    bound = sql.values(params)
    return {k: (s, bound) for k, s in build(sql.shape(params, dialect)).items()}


# --- gift-redemptions ---------------------------------------------------------------------


def redemption_queries(
    params: ReportParams, dialect: str
) -> dict[str, tuple[Executable, dict[str, Any]]]:
    return _bound(redemption_statements, params, dialect)


@lru_cache(maxsize=64)
def redemption_statements(form: sql.Shape) -> dict[str, Executable]:
    where = _redemptions_in(form, *EXCHANGES)
    rows = sql.paged(
        select(
            Redemption.id.label("id"),
            sql.unconverted(Redemption.created_at, form.dialect).label("at"),
            Store.name.label("store"),
            sql.masked_phone(),
            Redemption.kind.label("kind"),
            func.coalesce(Gift.name, CouponType.name).label("item"),
            Redemption.quantity.label("quantity"),
            Redemption.points_spent.label("points"),
        )
        .outerjoin(Store, Store.id == Redemption.store_id)
        .outerjoin(Member, Member.id == Redemption.member_id)
        .outerjoin(Gift, Gift.id == Redemption.gift_id)
        .outerjoin(Coupon, Coupon.id == Redemption.coupon_id)
        .outerjoin(CouponType, CouponType.id == Coupon.coupon_type_id)
        .where(*where)
        .order_by(Redemption.created_at.desc(), Redemption.id.desc()),
        form,
    )
    totals = select(
        func.count(),
        func.coalesce(func.sum(Redemption.quantity), 0),
        func.coalesce(func.sum(Redemption.points_spent), 0),
    ).where(*where)
    return {"rows": rows, "totals": totals}


def gift_redemptions(session: Session, params: ReportParams) -> Report:
    sql.check(params)
    stmts = redemption_queries(params, sql.dialect_of(session))
    count, quantity, points = sql.execute(session, *stmts["totals"])[0]
    with sql.labels(params) as _:
        kinds = {"gift": _("Gift item"), "coupon_exchange": _("Coupon")}
        anonymous, zone = _("Anonymous card"), clock.zone()
        rows = [
            {
                "id": str(number),
                "at": at.astimezone(zone),
                "store": store or "",
                "member": member or anonymous,
                "kind": kinds.get(kind, kind),
                "item": item or "",
                "quantity": quantity,
                "points": points,
            }
            for number, at, store, member, kind, item, quantity, points in (
                sql.execute(session, *stmts["rows"])
            )
        ]
        return Report(
            name="gift-redemptions",
            title=_("Gift redemptions"),
            columns=[
                *sql.transaction_columns(_),
                Column("kind", _("Type")),
                Column("item", _("Item")),
                Column("quantity", _("Quantity"), "count"),
                Column("points", _("Points spent"), "points"),
            ],
            rows=rows,
            total_rows=int(count),
            summary=[
                (_("Redemptions"), int(count), "count"),
                (_("Quantity"), int(quantity), "count"),
                (_("Points spent"), int(points), "points"),
            ],
        )


# --- popular-gifts ------------------------------------------------------------------------


def popular_queries(
    params: ReportParams, dialect: str
) -> dict[str, tuple[Executable, dict[str, Any]]]:
    return _bound(popular_statements, params, dialect)


@lru_cache(maxsize=64)
def popular_statements(form: sql.Shape) -> dict[str, Executable]:
    units = func.sum(Redemption.quantity).label("quantity")
    ranked = (
        select(
            Redemption.gift_id,
            func.count().label("redemptions"),
            units,
            func.sum(Redemption.points_spent).label("points"),
        )
        .where(*_redemptions_in(form, "gift"))
        .group_by(Redemption.gift_id)
        .subquery("ranked")
    )
    ranking = (
        select(
            Gift.code,
            Gift.name,
            ranked.c.redemptions,
            ranked.c.quantity,
            ranked.c.points,
        )
        .join(ranked, ranked.c.gift_id == Gift.id)
        .order_by(ranked.c.quantity.desc(), ranked.c.points.desc(), Gift.code)
    )
    return {"ranking": ranking}


def popular_gifts(session: Session, params: ReportParams) -> Report:
    sql.check(params)
    stmts = popular_queries(params, sql.dialect_of(session))
    ranking = [
        {
            "rank": n,
            "code": code,
            "name": name,
            "redemptions": int(redemptions),
            "quantity": int(quantity),
            "points": int(points),
        }
        for n, (code, name, redemptions, quantity, points) in enumerate(
            sql.execute(session, *stmts["ranking"]), start=1
        )
    ]
    with sql.labels(params) as _:
        return Report(
            name="popular-gifts",
            title=_("Popular gifts"),
            columns=[
                Column("rank", _("Rank"), "count"),
                Column("code", _("Code")),
                Column("name", _("Gift item")),
                Column("redemptions", _("Redemptions"), "count"),
                Column("quantity", _("Quantity"), "count"),
                Column("points", _("Points spent"), "points"),
            ],
            rows=sql.page_of(ranking, params),
            total_rows=len(ranking),
            chart=Chart("bar", "name", ("quantity",), rows=ranking[:TOP_GIFTS])
            if ranking
            else None,
            summary=[
                (_("Gifts redeemed"), sum(r["quantity"] for r in ranking), "count"),
                (_("Points spent"), sum(r["points"] for r in ranking), "points"),
            ],
        )


# --- gift-stock ---------------------------------------------------------------------------


def stock_queries(
    params: ReportParams, dialect: str
) -> dict[str, tuple[Executable, dict[str, Any]]]:
    return _bound(stock_statements, params, dialect)


@lru_cache(maxsize=64)
def stock_statements(form: sql.Shape) -> dict[str, Executable]:
    taken = (
        select(
            Redemption.gift_id,
            func.count().label("redemptions"),
            func.sum(Redemption.quantity).label("quantity"),
        )
        .where(*_redemptions_in(form, "gift"))
        .group_by(Redemption.gift_id)
        .subquery("taken")
    )
    stock = (
        select(
            Gift.code,
            Gift.name,
            Gift.points_cost,
            Gift.stock,
            func.coalesce(taken.c.redemptions, 0).label("redemptions"),
            func.coalesce(taken.c.quantity, 0).label("quantity"),
        )
        .outerjoin(taken, taken.c.gift_id == Gift.id)
        .where(Gift.active)
        # Lowest stock first (what to reorder), unlimited gifts last; codes in code-point
        # order on PostgreSQL too, whatever the database's collation.
        .order_by(Gift.stock.is_(None), Gift.stock, _code_order(form))
    )
    return {"stock": stock}


def _code_order(form: sql.Shape) -> Any:
    return Gift.code.collate("C") if form.dialect == "postgresql" else Gift.code


def gift_stock(session: Session, params: ReportParams) -> Report:
    sql.check(params)
    stmts = stock_queries(params, sql.dialect_of(session))
    found = sql.execute(session, *stmts["stock"])
    with sql.labels(params) as _:
        unlimited = _("Unlimited")
        rows = [
            {
                "code": code,
                "name": name,
                "points_cost": int(points_cost),
                "stock": unlimited if stock is None else str(stock),
                "redemptions": int(redemptions),
                "quantity": int(quantity),
            }
            for code, name, points_cost, stock, redemptions, quantity in found
        ]
        return Report(
            name="gift-stock",
            title=_("Gift stock"),
            columns=[
                Column("code", _("Code")),
                Column("name", _("Gift item")),
                Column("points_cost", _("Points each"), "points"),
                Column("stock", _("Stock left")),
                Column("redemptions", _("Redemptions in range"), "count"),
                Column("quantity", _("Redeemed in range"), "count"),
            ],
            rows=sql.page_of(rows, params),
            total_rows=len(rows),
            summary=[
                (_("Gifts on offer"), len(rows), "count"),
                (
                    _("Out of stock"),
                    sum(1 for r in found if r.stock == 0),
                    "count",
                ),
                (_("Redeemed in range"), sum(r["quantity"] for r in rows), "count"),
            ],
        )
