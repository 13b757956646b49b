"""Status callbacks in any order leave the furthest status reached (property-based)."""

from __future__ import annotations

from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.db import db
from app.messaging.models import STATUS_RANK, OutboxMessage
from app.messaging.services import PROVIDER_STATUSES, enqueue, record_delivery_status

_counter = iter(range(10**9))


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.sampled_from(sorted(PROVIDER_STATUSES)), min_size=1, max_size=8))
def test_callbacks_never_move_a_status_backwards(app: Flask, statuses: list[str]) -> None:
    n = next(_counter)
    outbox_id = enqueue(address="+8613800138000", body="hi", kind="alert")
    row = db.session.get(OutboxMessage, outbox_id)
    assert row is not None
    row.status, row.provider_id = "sending", f"SMprop{n}"
    db.session.flush()
    for status in statuses:
        record_delivery_status(f"SMprop{n}", status)
    mapped = [PROVIDER_STATUSES[s] for s in statuses]
    best = max(STATUS_RANK[s] for s in ["sending", *mapped])
    # The first status to reach the highest rank wins (a final state is never replaced).
    expected = next(s for s in ["sending", *mapped] if STATUS_RANK[s] == best)
    assert row.status == expected
