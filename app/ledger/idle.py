"""Whether a member has been active: what the win-back job asks of the ledger.

A member is active when they made a transaction themselves (a checkout, a recharge or a
redemption); postings they did not ask for (expiry, gifts, adjustments) do not count, as
in the inactive-members report.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ColumnElement, exists

from app.ledger.models import Transaction

#: The kinds of transaction a member makes themselves.
MEMBER_MADE_KINDS = ("checkout", "recharge", "redemption")


def made_transaction_since(member_id: Any, since: dt.datetime) -> ColumnElement[bool]:
    """An ``EXISTS`` over the journal for the member id column ``member_id`` (to put in a
    query over members): true when they made a transaction at or after ``since``."""
    return exists().where(
        Transaction.member_id == member_id,
        Transaction.kind.in_(MEMBER_MADE_KINDS),
        Transaction.created_at >= since,
    )
