"""A CSV may list more members than one statement can carry as parameters (65,535 on
PostgreSQL): member details are looked up in batches, and the inactive members' last
activity inside the report's own statement."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from app.db import db
from app.reports import common
from app.reports.base import ReportParams
from app.reports.registry import REPORTS


def test_members_are_looked_up_in_batches(
    make_member: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    members = [make_member(name=f"m{n}") for n in range(5)]
    monkeypatch.setattr(common, "ID_BATCH", 2)
    statements: list[str] = []
    from sqlalchemy import event

    def keep(_c: Any, _cur: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", keep)
    try:
        found = common.members_by_id(db.session, [m.id for m in members])
    finally:
        event.remove(db.engine, "before_cursor_execute", keep)
    assert {i: r.name for i, r in found.items()} == {m.id: m.name for m in members}
    assert len([s for s in statements if "FROM member" in s]) == 3  # 2 + 2 + 1


def test_inactive_members_csv_sends_no_list_of_ids(make_member: Any) -> None:
    for n in range(3):
        member = make_member(name=f"idle{n}")
        member.joined_at = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)  # joined long ago, silent since
    db.session.flush()
    statements: list[str] = []
    from sqlalchemy import event

    def keep(_c: Any, _cur: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    params = ReportParams(dt.date(2026, 11, 1), dt.date(2026, 11, 30), None, page=None)
    event.listen(db.engine, "before_cursor_execute", keep)
    try:
        report = REPORTS["inactive-members"].run(db.session, params)
    finally:
        event.remove(db.engine, "before_cursor_execute", keep)
    assert sorted(r["name"] for r in report.rows) == ["idle0", "idle1", "idle2"]
    assert not any("member_id IN (" in s for s in statements)
