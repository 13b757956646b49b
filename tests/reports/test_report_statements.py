"""What the reports whose CSV runs to thousands of rows send, and the order the birthdays
come in now that they are placed per stated birthday (``bench/reports.py`` measures them).

Top spenders: one statement ranks, names and pages the members, one more counts them;
looking the members up afterwards sent every ranked member's id back as a parameter,
four times the query's own cost on a month's CSV. Birthdays: one statement (the home
store joined in). Gift stock: lowest first, unlimited last, codes in code-point order on
either database (the ordering is SQL's now).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from app.db import db
from app.db.prepared import observed
from app.reports.base import ReportParams
from app.reports.registry import REPORTS
from tests.reports.shop import MARCH, build


@contextmanager
def selects() -> Iterator[list[str]]:
    statements: list[str] = []

    def keep(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    def keep_raw(statement: str) -> None:  # the prepared executor's, which pass no event
        keep(None, None, statement)

    event.listen(db.engine, "before_cursor_execute", keep)
    try:
        with observed(keep_raw):
            yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", keep)


def every_row(name: str, date_from: dt.date, date_to: dt.date) -> Any:
    params = ReportParams(date_from, date_to, None, page=None, language="en")
    return REPORTS[name].run(db.session(), params)


def test_top_spenders_csv_sends_no_list_of_members(make_store: Any, make_member: Any) -> None:
    build(make_store, make_member)

    with selects() as sent:
        report = every_row("top-spenders", *MARCH)

    assert [(r["name"], r["store"], r["net_fen"]) for r in report.rows] == [
        ("张伟", "上海二店 (SH02)", 20000),
        ("王芳", "上海一店 (SH01)", 12000),
        ("李雷", "上海一店 (SH01)", 8000),
    ]
    assert len(sent) == 2  # the ranked rows, their count and total
    assert not any("member.id IN" in s or "store.id IN" in s for s in sent)


def test_birthdays_is_one_statement(make_store: Any, make_member: Any) -> None:
    build(make_store, make_member)

    with selects() as sent:
        report = every_row("birthdays", *MARCH)

    assert [(r["name"], r["store"]) for r in report.rows] == [
        ("李雷", "上海一店 (SH01)"),
        ("王芳", "上海一店 (SH01)"),
        ("孙丽", "上海二店 (SH02)"),
        ("赵敏", "北京一店 (BJ01)"),
    ]
    assert len(sent) == 1


def test_birthdays_of_a_day_by_name_then_phone_each_year_of_the_range(
    make_store: Any, make_member: Any
) -> None:
    make_store("SH01")
    for phone, name, birthday in [
        ("+8613800000001", "甲", "1992-05-01"),
        ("+8613800000003", "乙", "1990-05-01"),
        ("+8613800000002", "乙", "1991-05-01"),
        ("+8613800000009", None, "1993-05-01"),
        ("+8613800000005", "丙", "1980-04-30"),
    ]:
        make_member(phone, name=name, birthday=birthday, home_store="SH01")
    one_day = ["", "乙", "乙", "甲"]  # nameless first, then code-point order: 乙 U+4E59, 甲 U+7532

    report = every_row("birthdays", dt.date(2026, 4, 30), dt.date(2027, 5, 1))

    assert [(r["day"].isoformat(), r["name"]) for r in report.rows] == [
        ("2026-04-30", "丙"),
        *(("2026-05-01", name) for name in one_day),
        ("2027-04-30", "丙"),
        *(("2027-05-01", name) for name in one_day),
    ]
    assert [r["phone"] for r in report.rows[2:4]] == ["+8613800000002", "+8613800000003"]
    second = ReportParams(
        dt.date(2026, 4, 30), dt.date(2027, 5, 1), None, page=2, page_size=4, language="en"
    )
    page = REPORTS["birthdays"].run(db.session(), second)
    assert [(r["day"].isoformat(), r["name"]) for r in page.rows] == [
        ("2026-05-01", "甲"),
        ("2027-04-30", "丙"),
        ("2027-05-01", ""),
        ("2027-05-01", "乙"),
    ]
    assert page.total_rows == 10


def test_gift_stock_lowest_first_then_unlimited_in_code_point_order(app: Any) -> None:
    from app.ledger.redemption.models import Gift

    db.session.add_all(
        [
            Gift(code="a2", name="甲", points_cost=10, stock=None),
            Gift(code="B1", name="乙", points_cost=10, stock=None),
            Gift(code="c3", name="丙", points_cost=10, stock=5),
            Gift(code="C4", name="丁", points_cost=10, stock=5),
            Gift(code="D5", name="戊", points_cost=10, stock=0),
        ]
    )
    db.session.flush()

    report = every_row("gift-stock", *MARCH)

    # Upper case before lower case, as Python compares text (not a locale's collation).
    assert [(r["code"], r["stock"]) for r in report.rows] == [
        ("D5", "0"),
        ("C4", "5"),
        ("c3", "5"),
        ("B1", "Unlimited"),
        ("a2", "Unlimited"),
    ]
