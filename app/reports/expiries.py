"""Card and membership expiries (到期提醒): cards whose validity ends in the range.

Period cards (月卡/季卡/年卡) and any other card with a ``valid_until`` (a gift card sold
with a validity), not yet cancelled. A card counts at its holder's home store, an
anonymous card at the store that issued it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.cards.labels import card_state_labels, card_type_labels
from app.cards.models import Card
from app.i18n import gettext
from app.members.models import Member
from app.reports.base import Chart, Column, Report, ReportParams
from app.reports.common import in_scope, one_page, store_labels


def report(session: Session, params: ReportParams) -> Report:
    store_id = func.coalesce(Member.home_store_id, Card.issued_store_id)
    where = (
        Card.valid_until >= params.date_from,
        Card.valid_until <= params.date_to,
        Card.state != "cancelled",
        in_scope(store_id, params),
    )
    query = (
        select(
            Card.valid_until,
            Card.number,
            Card.type,
            Card.state,
            Card.valid_from,
            Member.name,
            Member.phone,
            store_id.label("store_id"),
        )
        .outerjoin(Member, Member.id == Card.member_id)
        .where(*where)
        .order_by(Card.valid_until, Card.number)
    )
    found = session.execute(one_page(query, params)).all()
    stores = store_labels(session, {r.store_id for r in found if r.store_id is not None})
    types, states = card_type_labels(), card_state_labels()
    rows: list[dict[str, Any]] = [
        {
            "valid_until": r.valid_until,
            "number": r.number,
            "type": types.get(r.type, r.type),
            "state": states.get(r.state, r.state),
            "valid_from": r.valid_from,
            "name": r.name or ("" if r.phone else gettext("Anonymous")),
            "phone": r.phone or "",
            "store": stores.get(r.store_id, ""),
        }
        for r in found
    ]
    per_type = session.execute(
        select(Card.type, func.count())
        .outerjoin(Member, Member.id == Card.member_id)
        .where(*where)
        .group_by(Card.type)
        .order_by(Card.type)
    ).all()
    total = sum(int(n) for _t, n in per_type)
    return Report(
        name="expiries",
        title=gettext("Card expiries"),
        columns=[
            Column("valid_until", gettext("Valid until"), "date"),
            Column("number", gettext("Card number")),
            Column("type", gettext("Card type")),
            Column("state", gettext("State")),
            Column("valid_from", gettext("Valid from"), "date"),
            Column("name", gettext("Holder")),
            Column("phone", gettext("Phone")),
            Column("store", gettext("Store")),
        ],
        rows=rows,
        total_rows=total,
        chart=Chart(
            "pie",
            "type",
            ("cards",),
            rows=[{"type": types.get(t, t), "cards": int(n)} for t, n in per_type],
            series_labels=(gettext("Cards"),),
        ),
        summary=[(gettext("Cards expiring"), total, "count")],
    )
