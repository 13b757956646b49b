"""The ledger-side reports against figures worked out by hand, on both databases.

The data set, made through the real services (the shop's zone is Asia/Shanghai, +08:00;
the rules: 1 point per yuan, recharge 500 get 50, points last one month):

- Members M1 (+8613800138000, home SH01 East) and M2 (+8613900139000, home BJ01 North)
  join on 11-01; M3 joins SH01 on 11-03.
- 11-02 00:30 local (11-01 16:30 UTC: in the range by local date, not by UTC date):
  M2 buys TEA 30.00 cash at BJ01 (bob) → 30 points.
- 11-02 10:00 M1 recharges 500.00 at SH01 (alice) → bonus 50.00.
- 11-02 11:00 M1 buys 2 TEA 80.00 + CAKE 40.00 from stored value at SH01 (alice) → 120 points.
- 11-03 09:00 M2 recharges 100.00 at BJ01 through an API key (no bonus).
- 11-03 12:00 alice refunds 20.00 of M1's purchase → 20 points taken back.
- 11-03 14:00 M1 redeems one MUG (50 points) at SH01 (alice).
- 11-04 10:00 the expiry job expires what is left: M1 50, M2 30 points.
- 11-05 00:30 local (11-04 16:30 UTC: outside the range by local date) M2 buys 10.00 cash.

The range is 11-02 .. 11-04 unless a test says otherwise.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select

from app import clock
from app.db import db
from app.errors import InvalidRequest
from app.members.models import Member
from app.reports.base import Report, ReportParams
from app.reports.ledger_reports import LEDGER_REPORTS

CST = dt.timezone(dt.timedelta(hours=8))
RULES: dict[str, Any] = {
    "version": 1,
    "earning": {"points_per_yuan_bp": 10000},
    "levels": [{"name": "Regular", "rank": 1, "discount_bp": 10000, "upgrade_threshold": 0}],
    "recharge_plans": [{"name": "500+50", "min_amount_fen": 50000, "bonus_fen": 5000}],
    "points_expiry": {"mode": "months", "months": 1},
    "redemption": {"offset_points_per_yuan": 100, "max_offset_bp": 10000},
}


def at(day: int, hour: int, minute: int = 0) -> Any:
    return clock.frozen(dt.datetime(2026, 11, day, hour, minute, tzinfo=CST))


@pytest.fixture
def shop(app: Any, make_store: Any) -> dict[str, Any]:
    from app.auth.services import create_api_key, create_staff
    from app.cards.services import enroll, member_cards
    from app.ledger import operations
    from app.ledger.expiry import expire_lots
    from app.ledger.redemption.models import Gift
    from app.ledger.redemption.services import redeem_gift
    from app.ledger.rules.io import import_rules

    sh01 = make_store("SH01", "人民广场店", region="East")
    bj01 = make_store("BJ01", "王府井店", region="North")
    import_rules(RULES)
    create_staff(
        "alice",
        "a-long-enough-password-1",
        role="store_manager",
        store_code="SH01",
        display_name="Alice Wang",
    )
    create_staff(
        "bob", "a-long-enough-password-2", role="cashier", store_code="BJ01", display_name="Bob Li"
    )
    key, _secret = create_api_key(bj01, label="BJ01 counter")
    db.session.add_all(
        [
            Gift(code="MUG", name="保温杯", points_cost=50, stock=10),
            Gift(code="TOTE", name="帆布袋", points_cost=300, stock=None),
            Gift(code="BOX", name="礼盒", points_cost=900, stock=0),
        ]
    )
    db.session.flush()
    with at(1, 9):
        m1 = enroll({"phone": "+8613800138000", "home_store": "SH01"})
        m2 = enroll({"phone": "+8613900139000", "home_store": "BJ01"})
    c1, c2 = member_cards(m1)[0], member_cards(m2)[0]
    with at(2, 0, 30):
        operations.checkout(
            c2, bj01, 3000, "cash", key="c2", actor="staff:bob",
            items=[{"sku": "TEA", "category": "Drinks", "amount_fen": 3000, "quantity": 1}],
        )  # fmt: skip
    with at(2, 10):
        operations.recharge(c1, sh01, 50000, key="r1", actor="staff:alice")
    with at(2, 11):
        sale = operations.checkout(
            c1, sh01, 12000, "stored_value", key="c1", actor="staff:alice",
            items=[
                {"sku": "TEA", "category": "Drinks", "amount_fen": 8000, "quantity": 2},
                {"sku": "CAKE", "category": "Food", "amount_fen": 4000, "quantity": 1},
            ],
        )  # fmt: skip
    with at(3, 9):
        operations.recharge(c2, bj01, 10000, key="r2", actor=f"apikey:{key.id}")
    with at(3, 10):
        enroll({"phone": "+8613700137000", "home_store": "SH01"})
    with at(3, 12):
        operations.refund(sale.transaction_id, 2000, key="f1", actor="staff:alice", store=sh01)
    with at(3, 14):
        redeem_gift(c1, "MUG", key="g1", store=sh01, actor="staff:alice")
    with at(4, 10):
        assert expire_lots(dt.date(2026, 12, 31)).points == 80
    with at(5, 0, 30):
        operations.checkout(c2, bj01, 1000, "cash", key="c3", actor="staff:bob")
    db.session.flush()
    return {"SH01": sh01.id, "BJ01": bj01.id, "key": key.id}


def params(**kw: Any) -> ReportParams:
    base = ReportParams(dt.date(2026, 11, 2), dt.date(2026, 11, 4), None, language="en")
    return dataclasses.replace(base, **kw)


def run(name: str, **kw: Any) -> Report:
    with at(2, 20):  # "today" is 11-02 for the stores report
        return LEDGER_REPORTS[name](db.session, params(**kw))


def column(report: Report, key: str) -> list[Any]:
    return [row[key] for row in report.rows]


def summary(report: Report) -> dict[str, Any]:
    return {label: value for label, value, _kind in report.summary}


def test_consumption_lists_the_range_by_local_date_with_masked_phones(shop: Any) -> None:
    report = run("consumption")
    assert report.total_rows == 2
    assert column(report, "member") == ["+86138****8000", "+86139****9000"]
    assert column(report, "store") == ["人民广场店", "王府井店"]
    assert column(report, "charged_fen") == [12000, 3000]
    assert column(report, "pay_with") == ["Stored value", "Cash"]
    assert report.rows[0]["at"] == dt.datetime(2026, 11, 2, 11, 0, tzinfo=CST)
    assert report.rows[1]["at"].hour == 0  # 00:30 local, the day before in UTC
    figures = summary(report)
    assert (figures["Checkouts"], figures["List price"], figures["Charged"]) == (2, 15000, 15000)
    assert figures["Category Drinks"] == 11000
    assert figures["Category Food"] == 4000
    assert report.chart is not None and report.chart.rows is not None
    assert [(r["sku"], r["quantity"], r["amount_fen"]) for r in report.chart.rows] == [
        ("TEA", 3, 11000),
        ("CAKE", 1, 4000),
    ]


def test_consumption_pages_and_the_csv_has_every_row(shop: Any) -> None:
    first = run("consumption", page=1, page_size=1)
    second = run("consumption", page=2, page_size=1)
    every = run("consumption", page=None)
    assert first.total_rows == second.total_rows == every.total_rows == 2
    assert column(first, "charged_fen") == [12000]
    assert column(second, "charged_fen") == [3000]
    assert column(every, "charged_fen") == [12000, 3000]
    assert run("consumption", page=3, page_size=1).rows == []


def test_consumption_store_filter_limits_rows_and_rankings(shop: Any) -> None:
    report = run("consumption", store_ids=frozenset({shop["BJ01"]}))
    assert column(report, "store") == ["王府井店"]
    assert summary(report)["Charged"] == 3000
    assert report.chart is not None and report.chart.rows == [
        {"sku": "TEA", "quantity": 1, "amount_fen": 3000}
    ]


def test_a_later_range_holds_the_checkout_after_local_midnight(shop: Any) -> None:
    report = run("consumption", date_from=dt.date(2026, 11, 5), date_to=dt.date(2026, 11, 5))
    assert column(report, "charged_fen") == [1000]
    assert report.chart is None  # no items, no ranking


def test_recharges(shop: Any) -> None:
    report = run("recharges")
    assert [(r["member"], r["paid_fen"], r["bonus_fen"], r["total_fen"]) for r in report.rows] == [
        ("+86139****9000", 10000, 0, 10000),
        ("+86138****8000", 50000, 5000, 55000),
    ]
    figures = summary(report)
    assert (figures["Recharges"], figures["Paid in"], figures["Bonus"]) == (2, 60000, 5000)
    sh01 = run("recharges", store_ids=frozenset({shop["SH01"]}))
    assert column(sh01, "paid_fen") == [50000]


def test_points_per_day(shop: Any) -> None:
    report = run("points")
    by_day = {
        row["day"]: (row["issued"], row["taken_back"], row["redeemed"], row["expired"], row["net"])
        for row in report.rows
    }
    assert by_day == {
        dt.date(2026, 11, 2): (150, 0, 0, 0, 150),
        dt.date(2026, 11, 3): (0, 20, 50, 0, -70),
        dt.date(2026, 11, 4): (0, 0, 0, 80, -80),
    }
    assert summary(report)["Net change in points"] == 0
    assert report.chart is not None and report.chart.kind == "line"
    # The store filter: only postings at BJ01 (expiry belongs to no store).
    bj01 = run("points", store_ids=frozenset({shop["BJ01"]}))
    assert [row["issued"] for row in bj01.rows] == [30, 0, 0]
    assert sum(row["expired"] for row in bj01.rows) == 0
    # Every day of the range has a row, even a quiet one; paging is over days.
    week = run("points", date_to=dt.date(2026, 11, 8), page_size=5)
    assert week.total_rows == 7 and len(week.rows) == 5


def test_points_over_the_longest_range_has_every_day(shop: Any) -> None:
    """Five years of days: more than SQLite takes in one compound SELECT (500 parts)."""
    start = dt.date(2021, 11, 5)
    report = run("points", date_from=start, date_to=dt.date(2026, 11, 4), page=None)
    days = (dt.date(2026, 11, 4) - start).days + 1
    assert days > 1800 and report.total_rows == days and len(report.rows) == days
    assert [row["day"] for row in report.rows[:2]] == [start, start + dt.timedelta(days=1)]
    assert sum(row["issued"] for row in report.rows) == 150
    assert summary(report)["Net change in points"] == 0


def test_gift_reports(shop: Any) -> None:
    redemptions = run("gift-redemptions")
    assert [(r["item"], r["quantity"], r["points"], r["member"]) for r in redemptions.rows] == [
        ("保温杯", 1, 50, "+86138****8000")
    ]
    popular = run("popular-gifts")
    assert [(r["code"], r["redemptions"], r["quantity"], r["points"]) for r in popular.rows] == [
        ("MUG", 1, 1, 50)
    ]
    stock = run("gift-stock")
    assert [(r["code"], r["stock"], r["quantity"]) for r in stock.rows] == [
        ("BOX", "0", 0),
        ("MUG", "9", 1),
        ("TOTE", "Unlimited", 0),
    ]
    assert summary(stock)["Out of stock"] == 1
    assert run("gift-redemptions", store_ids=frozenset({shop["BJ01"]})).rows == []
    assert run("gift-stock", store_ids=frozenset({shop["BJ01"]})).rows[1]["quantity"] == 0


def test_stores_compares_stores_regions_and_today(shop: Any) -> None:
    report = run("stores")
    rows = {row["code"]: row for row in report.rows}
    assert list(rows) == ["SH01", "BJ01"]  # East before North
    assert {k: rows["SH01"][k] for k in ("sales", "charged_fen", "recharged_fen")} == {
        "sales": 1,
        "charged_fen": 12000,
        "recharged_fen": 50000,
    }
    assert (rows["SH01"]["refunded_fen"], rows["SH01"]["net_fen"]) == (2000, 10000)
    assert (rows["BJ01"]["charged_fen"], rows["BJ01"]["recharged_fen"]) == (3000, 10000)
    assert (rows["SH01"]["new_members"], rows["BJ01"]["new_members"]) == (1, 0)
    # Today (11-02): SH01 sold 120.00 and took 500.00; BJ01 sold 30.00 just after midnight.
    assert (rows["SH01"]["today_sales"], rows["SH01"]["today_charged_fen"]) == (1, 12000)
    assert rows["SH01"]["today_recharged_fen"] == 50000
    assert (rows["BJ01"]["today_sales"], rows["BJ01"]["today_charged_fen"]) == (1, 3000)
    figures = summary(report)
    assert figures["Region East: net takings"] == 10000
    assert figures["Region North: net takings"] == 3000
    assert figures["Today: charged"] == 15000
    assert report.chart is not None and report.chart.kind == "bar"
    mine = run("stores", store_ids=frozenset({shop["SH01"]}))
    assert column(mine, "code") == ["SH01"]
    assert summary(mine)["Today: charged"] == 12000


def test_staff_performance(shop: Any) -> None:
    report = run("staff")
    got = [
        (r["who"], r["transactions"], r["sales"], r["charged_fen"], r["recharged_fen"],
         r["refunded_fen"])
        for r in report.rows
    ]  # fmt: skip
    assert got == [
        ("Alice Wang (alice)", 4, 1, 12000, 50000, 2000),
        ("Bob Li (bob)", 1, 1, 3000, 0, 0),
        ("expire", 2, 0, 0, 0, 0),
        ("BJ01 counter", 1, 0, 0, 10000, 0),
    ]
    assert column(report, "store") == ["SH01", "BJ01", "", "BJ01"]
    assert column(report, "kind") == ["Staff", "Staff", "Scheduled job", "API key"]
    mine = run("staff", store_ids=frozenset({shop["SH01"]}))
    assert column(mine, "who") == ["Alice Wang (alice)"]


def test_labels_follow_the_language(shop: Any) -> None:
    hans = run("consumption", language="zh-Hans")
    hant = run("consumption", language="zh-Hant")
    en = run("consumption", language="en")
    labels = {
        "zh-Hans": {c.key: c.label for c in hans.columns},
        "zh-Hant": {c.key: c.label for c in hant.columns},
        "en": {c.key: c.label for c in en.columns},
    }
    assert labels["en"]["charged_fen"] == "Charged"
    assert labels["zh-Hans"]["charged_fen"] == "实收"
    assert labels["zh-Hant"]["charged_fen"] == "實收"
    assert hans.title == "消费记录"
    assert hans.rows[0]["pay_with"] == "储值"


@pytest.mark.parametrize("name", sorted(LEDGER_REPORTS))
def test_every_report_refuses_bad_ranges_and_pages(shop: Any, name: str) -> None:
    bad = [
        {"date_from": dt.date(2026, 11, 5), "date_to": dt.date(2026, 11, 1)},
        {"date_from": dt.date(2000, 1, 1), "date_to": dt.date(2026, 1, 1)},
        {"date_from": dt.date(1, 1, 1), "date_to": dt.date(1, 1, 2)},
        {"date_from": dt.date(9999, 12, 30), "date_to": dt.date(9999, 12, 31)},
        {"page": 0},
        {"page": 10**19},
        {"page_size": 0},
        {"page_size": 10**6},
    ]
    for change in bad:
        with pytest.raises(InvalidRequest):
            run(name, **change)


@pytest.mark.parametrize("name", sorted(LEDGER_REPORTS))
def test_every_report_answers_an_empty_shop(app: Any, name: str) -> None:
    report = run(name)
    assert report.name == name
    assert all(set(row) >= {c.key for c in report.columns} for row in report.rows)
    # Nothing happened: no rows, except the points report's one row per day of the range.
    assert report.total_rows == (3 if name == "points" else 0)


def test_consumption_names_a_split_tender(shop: Any) -> None:
    """M2 (100.00 of stored value from 11-03) pays 150.00: 100.00 from the card, the rest cash."""
    from app.cards.models import Card
    from app.ledger import operations
    from app.stores.models import Store

    card = db.session.scalar(select(Card).join(Card.member).where(Member.phone == "+8613900139000"))
    with at(4, 15):
        operations.checkout(
            card,
            db.session.get(Store, shop["BJ01"]),
            15000,
            "cash",
            key="split-1",
            actor="staff:bob",
            stored_value_fen=10000,
        )
    report = run("consumption")
    assert column(report, "pay_with") == ["Stored value + cash", "Stored value", "Cash"]
    assert column(report, "charged_fen")[0] == 15000
    hans = run("consumption", language="zh-Hans")
    assert hans.rows[0]["pay_with"] == "储值 + 现金"
