"""The day's birthdays from the database (lunar too), ``laoyou birthdays``, the birthday jobs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, text

from app.campaigns.jobs import birthday_bonus, birthday_greetings
from app.db import db
from app.ledger.balances import member_balances
from app.ledger.models import Transaction
from app.ledger.rules.io import import_rules
from app.members.services import birthday_query, birthdays_on
from app.messaging.models import OutboxMessage

#: 2026 has no leap sixth month: 闰六月十五 is kept on 六月十五 = 2026-07-28.
JULY_28 = dt.date(2026, 7, 28)


@pytest.fixture
def people(make_member: Callable[..., Any]) -> dict[str, Any]:
    return {
        "leap_day": make_member("+8613900000001", birthday="1992-02-29"),
        # 1987 had a leap sixth month (闰六月), so the member could be born in it.
        "leap_month": make_member(
            "+8613900000002",
            birthday="1987-06-15",
            birthday_calendar="lunar",
            lunar_leap_month=True,
            language="en",
            name="Lee",
        ),
        "lunar": make_member(
            "+8613900000003", birthday="1987-06-15", birthday_calendar="lunar", name="王芳"
        ),
        "solar": make_member("+8613900000004", birthday="1990-07-28", language="zh-Hant"),
        "other": make_member("+8613900000005", birthday="1990-07-27"),
        "unknown": make_member("+8613900000006"),
    }


def test_the_days_birthdays_lunar_and_solar(app: Flask, people: dict[str, Any]) -> None:
    found = [m.id for m in birthdays_on(JULY_28)]
    assert found == [people["leap_month"].id, people["lunar"].id, people["solar"].id]
    # Feb 29 is kept on Feb 28 in a common year.
    assert [m.id for m in birthdays_on(dt.date(2026, 2, 28))] == [people["leap_day"].id]
    assert [m.id for m in birthdays_on(dt.date(2028, 2, 28))] == []


def test_pages_of_the_lookup_give_the_same_members(app: Flask, people: dict[str, Any]) -> None:
    assert [m.id for m in birthdays_on(JULY_28, batch=1)] == [m.id for m in birthdays_on(JULY_28)]


def test_laoyou_birthdays_prints_masked_phone_then_id(
    app: Flask, runner: Any, people: dict[str, Any]
) -> None:
    result = runner.invoke(args=["birthdays", "--on", "2026-07-28"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"+86139****0002 {people['leap_month'].id}",
        f"+86139****0003 {people['lunar'].id}",
        f"+86139****0004 {people['solar'].id}",
    ]


@pytest.mark.parametrize("bad", ["2026-02-30", "tomorrow", "2026-07-28\x00"])
def test_laoyou_birthdays_refuses_a_bad_date(app: Flask, runner: Any, bad: str) -> None:
    result = runner.invoke(args=["birthdays", "--on", bad])
    assert result.exit_code == 2


def _outbox() -> list[OutboxMessage]:
    return list(db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def test_greetings_go_once_per_member_and_year_in_their_language(
    app: Flask, people: dict[str, Any]
) -> None:
    assert birthday_greetings(JULY_28, "birthday_greetings@2026-07-28T09:00") == {"members": 3}
    # The job again, even under another run key, greets nobody twice.
    assert birthday_greetings(JULY_28, "birthday_greetings@2026-07-28T09:05") == {"members": 3}
    rows = _outbox()
    assert [(r.address, r.kind, r.language) for r in rows] == [
        ("+8613900000002", "marketing", "en"),
        ("+8613900000003", "marketing", "zh-Hans"),
        ("+8613900000004", "marketing", "zh-Hant"),
    ]
    assert rows[0].body.startswith("Happy birthday, Lee!")
    assert rows[1].body.startswith("王芳，生日快乐")
    assert "生日快樂" in rows[2].body


def test_the_birthday_gift_is_posted_once_a_year(app: Flask, people: dict[str, Any]) -> None:
    import_rules({"version": 1, "earning": {"birthday_points": 88}})
    first = birthday_bonus(JULY_28, "birthday_bonus@2026-07-28")
    again = birthday_bonus(JULY_28, "birthday_bonus@2026-07-28-again")
    assert first == {"members": 3, "given": 3, "points": 264}
    assert again == {"members": 3, "given": 0, "points": 0}
    assert member_balances(people["lunar"].id).points == 88
    assert member_balances(people["other"].id).points == 0
    keys = db.session.scalars(
        select(Transaction.idempotency_key).where(Transaction.reason == "birthday")
    ).all()
    assert sorted(keys) == sorted(
        f"birthday:{people[n].id}:2026" for n in ("leap_month", "lunar", "solar")
    )


def test_no_birthday_points_in_the_rules_gives_nothing(app: Flask, people: dict[str, Any]) -> None:
    assert birthday_bonus(JULY_28, "k") == {"members": 3, "given": 0, "points": 0}


@pytest.mark.postgresql_only
def test_the_days_lookup_is_an_index_scan(app: Flask, make_store: Callable[..., Any]) -> None:
    """Over many members the day's query reads the birthday index, not every member."""
    store = make_store()
    db.session.execute(
        text(
            "INSERT INTO member (phone, gender, birthday_year, birthday_month, birthday_day,"
            " birthday_calendar, lunar_leap_month, language, home_store_id, tags, answers,"
            " joined_at, sms_opt_out, wechat_opt_out)"
            " SELECT '+8613' || lpad(g::text, 9, '0'), 'unknown', 1990, 1 + g % 12,"
            " 1 + (g / 12) % 28,"
            " CASE WHEN (g / 336) % 3 = 0 THEN 'lunar' ELSE 'solar' END, false, 'zh-Hans',"
            " :store, '[]', '{}', now(), false, false FROM generate_series(1, 30000) AS g"
        ),
        {"store": store.id},
    )
    db.session.execute(text("ANALYZE member"))
    found = list(birthdays_on(JULY_28))
    assert found and all(m.birthday_month in (6, 7) for m in found)
    query = birthday_query(JULY_28, after=0, limit=1000)
    compiled = query.compile(
        dialect=db.session.connection().dialect, compile_kwargs={"literal_binds": True}
    )
    plan = "\n".join(db.session.execute(text(f"EXPLAIN {compiled}")).scalars())
    assert "ix_member_birthday" in plan, plan
    assert "Seq Scan on member" not in plan, plan
