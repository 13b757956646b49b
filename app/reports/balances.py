"""Member balances (会员余额): each member's points and stored value (paid, bonus), now.

The sums of the cached balances of every card a member holds (``laoyou ledger check``
keeps those true); anonymous cards are no member's and are left out. Members whose cards
hold nothing are left out too. The dates do not apply: these are today's balances.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from app.cards.models import Card
from app.i18n import gettext
from app.ledger.models import Account
from app.members.models import Member
from app.reports.base import Column, Report, ReportParams
from app.reports.common import in_scope, one_page, store_labels


def _asset_sum(asset: str) -> Any:
    return func.coalesce(func.sum(case((Account.asset == asset, Account.balance), else_=0)), 0)


def report(session: Session, params: ReportParams) -> Report:
    points = _asset_sum("points")
    paid = _asset_sum("stored_value_paid")
    bonus = _asset_sum("stored_value_bonus")
    query = (
        select(
            Member.id,
            # Grouped by the member's key, so the member's own columns come along (a CSV of
            # every member with a balance then needs no look-up of them by id).
            Member.name,
            Member.phone,
            Member.home_store_id,
            points.label("points"),
            paid.label("paid"),
            bonus.label("bonus"),
        )
        .select_from(Account)
        .join(Card, Card.id == Account.card_id)
        .join(Member, Member.id == Card.member_id)
        .where(
            Account.asset.in_(("points", "stored_value_paid", "stored_value_bonus")),
            # An empty account adds nothing to a sum: most cards hold one asset of three.
            Account.balance != 0,
            in_scope(Member.home_store_id, params),
        )
        .group_by(Member.id)
        .having(or_(points != 0, paid != 0, bonus != 0))
    )
    # The totals ride along on every row (window sums over the members listed), so the
    # accounts are aggregated once, not once for the page and again for the summary.
    paged = query.add_columns(
        func.count().over().label("n"),
        func.sum(points).over().label("all_points"),
        func.sum(paid).over().label("all_paid"),
        func.sum(bonus).over().label("all_bonus"),
    ).order_by((paid + bonus).desc(), points.desc(), Member.id)
    found = session.execute(one_page(paged, params)).all()
    stores = store_labels(session, {r.home_store_id for r in found})
    rows: list[dict[str, Any]] = []
    for r in found:
        rows.append(
            {
                "name": r.name or "",
                "phone": r.phone,
                "store": stores.get(r.home_store_id, ""),
                "points": int(r.points),
                "paid_fen": int(r.paid),
                "bonus_fen": int(r.bonus),
                "stored_fen": int(r.paid) + int(r.bonus),
            }
        )
    if found:
        first = found[0]
        count, total_points, total_paid, total_bonus = (
            first.n,
            first.all_points,
            first.all_paid,
            first.all_bonus,
        )
    else:  # nobody holds anything, or a page past the last: ask for the totals alone
        listed = query.subquery()
        count, total_points, total_paid, total_bonus = session.execute(
            select(
                func.count(),
                func.coalesce(func.sum(listed.c.points), 0),
                func.coalesce(func.sum(listed.c.paid), 0),
                func.coalesce(func.sum(listed.c.bonus), 0),
            ).select_from(listed)
        ).one()
    return Report(
        name="balances",
        title=gettext("Member balances"),
        columns=[
            Column("name", gettext("Name")),
            Column("phone", gettext("Phone")),
            Column("store", gettext("Home store")),
            Column("points", gettext("Points"), "points"),
            Column("paid_fen", gettext("Stored value paid in"), "fen"),
            Column("bonus_fen", gettext("Stored value bonus"), "fen"),
            Column("stored_fen", gettext("Stored value"), "fen"),
        ],
        rows=rows,
        total_rows=int(count),
        summary=[
            (gettext("Members with a balance"), int(count), "count"),
            (gettext("Points"), int(total_points), "points"),
            (gettext("Stored value paid in"), int(total_paid), "fen"),
            (gettext("Stored value bonus"), int(total_bonus), "fen"),
            (gettext("Stored value"), int(total_paid) + int(total_bonus), "fen"),
        ],
    )
