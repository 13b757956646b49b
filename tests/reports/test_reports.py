"""Each report of part a against the figures worked out by hand from ``shop.py``'s chain."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from app.db import db
from app.reports.base import Report, ReportParams
from app.reports.registry import REPORTS
from tests.reports.shop import INJECTION, MARCH, build


@pytest.fixture
def shop(app: Any, make_store: Any, make_member: Any) -> dict[str, Any]:
    return build(make_store, make_member)


def run(
    name: str,
    shop: dict[str, Any],
    *stores: str,
    dates: tuple[dt.date, dt.date] = MARCH,
    **options: Any,
) -> Report:
    store_ids = frozenset(shop["stores"][code].id for code in stores) if stores else None
    params = ReportParams(dates[0], dates[1], store_ids, page=None, language="en", **options)
    return REPORTS[name].run(db.session(), params)


def column(report: Report, key: str) -> list[Any]:
    return [row[key] for row in report.rows]


def summary(report: Report) -> dict[str, Any]:
    return {label: value for label, value, _kind in report.summary}


def test_members_by_level_gender_age_band_and_region(shop: dict[str, Any]) -> None:
    # At the end of March: A, B, C, D, F, G, H (E joins on April 2nd).
    report = run("members", shop)

    assert summary(report)["Members"] == 7
    table = {(r["dimension"], r["group"]): (r["members"], r["share"]) for r in report.rows}
    assert table[("Level", "Regular")] == (6, 8571)  # 6/7 = 85.71%
    assert table[("Level", "Gold")] == (1, 1428)
    assert table[("Gender", "Female")] == (2, 2857)  # A, G
    assert table[("Gender", "Male")] == (3, 4285)  # B, C, H
    assert table[("Gender", "Not given")] == (2, 2857)  # D, F
    # Ages on 2026-03-31: A 36, B 41 (lunar year 1985), C 15, F 26, G 3, H 26; D none.
    assert table[("Age band", "35–44")] == (2, 2857)
    assert table[("Age band", "25–34")] == (2, 2857)
    assert table[("Age band", "Under 18")] == (2, 2857)
    assert table[("Age band", "Not given")] == (1, 1428)
    assert table[("Region", "上海")] == (2, 2857)
    assert table[("Region", "杭州")] == (1, 1428)
    assert table[("Region", "Not given")] == (4, 5714)
    assert report.chart is not None and report.chart.rows is not None
    assert [(r["group"], r["members"]) for r in report.chart.rows] == [("Regular", 6), ("Gold", 1)]


def test_members_of_one_store(shop: dict[str, Any]) -> None:
    report = run("members", shop, "SH01")

    assert summary(report)["Members"] == 2  # A and B
    assert {(r["dimension"], r["group"]): r["members"] for r in report.rows}[
        ("Gender", "Male")
    ] == 1


def test_member_trend_counts_each_local_day(shop: dict[str, Any]) -> None:
    report = run("member-trend", shop)

    by_day = {r["day"]: (r["new"], r["members"]) for r in report.rows}
    assert len(report.rows) == 31
    # Before March: A, F, G, H. C joined at 23:30 on the 2nd (15:30 UTC), D at 00:30 on the
    # 5th (16:30 UTC on the 4th): both counted on their local day.
    assert by_day[dt.date(2026, 3, 1)] == (0, 4)
    assert by_day[dt.date(2026, 3, 2)] == (2, 6)
    assert by_day[dt.date(2026, 3, 4)] == (0, 6)
    assert by_day[dt.date(2026, 3, 5)] == (1, 7)
    assert by_day[dt.date(2026, 3, 31)] == (0, 7)
    assert summary(report) == {
        "Members before the range": 4,
        "New members": 3,
        "Members at the end": 7,
    }


def test_member_trend_by_week_over_a_long_range(shop: dict[str, Any]) -> None:
    report = run("member-trend", shop, dates=(dt.date(2025, 10, 1), dt.date(2026, 3, 31)))

    assert report.columns[0].label == "Week from"
    # 2025-10-01 is a Wednesday: the first row runs to Sunday the 5th; then Mondays.
    assert report.rows[0]["day"] == dt.date(2025, 10, 1)
    assert report.rows[1]["day"] == dt.date(2025, 10, 6)
    assert report.rows[0]["new"] == 2  # G and H on 2025-10-01
    assert report.rows[-1]["members"] == 7
    assert sum(r["new"] for r in report.rows) == 7


def test_new_members_in_the_range_with_their_store(shop: dict[str, Any]) -> None:
    report = run("new-members", shop)

    assert [(r["name"], r["store"]) for r in report.rows] == [
        ("李雷", "上海一店 (SH01)"),
        ("张伟", "上海二店 (SH02)"),
        (INJECTION, "北京一店 (BJ01)"),
    ]
    assert report.total_rows == 3
    assert report.chart is not None and report.chart.rows is not None
    per_day = {r["day"]: r["new"] for r in report.chart.rows}
    assert per_day[dt.date(2026, 3, 2)] == 2
    assert per_day[dt.date(2026, 3, 4)] == 0
    assert per_day[dt.date(2026, 3, 5)] == 1
    assert sum(per_day.values()) == 3

    north = run("new-members", shop, "BJ01")
    assert column(north, "name") == [INJECTION]


def test_inactive_members_default_ninety_days(shop: dict[str, Any]) -> None:
    report = run("inactive-members", shop)

    # Joined before 2026-01-01 (90 days before April 1st): A, F, G, H. A bought in March.
    # F last bought on 2025-12-15 12:00: 106 days and 12 hours before April 1st 00:00.
    assert column(report, "name") == ["孙丽", "周杰", "钱七"]  # by joining date, then id
    idle = {r["name"]: (r["last_activity"], r["idle_days"]) for r in report.rows}
    assert idle["钱七"] == (dt.datetime(2025, 12, 15, 4, 0, tzinfo=dt.UTC), 106)
    assert idle["孙丽"][0] is None
    assert summary(report)["Inactive members"] == 3
    assert summary(report)["Members"] == 7
    assert summary(report)["Share inactive"] == 4285


def test_inactive_members_for_a_number_of_days(shop: dict[str, Any]) -> None:
    # 27 days before April 1st is March 5th 00:00: D joined after it; B (6th) and C (10th)
    # bought since; A last bought on the 4th at 12:00 (27.5 days); a refund is no activity.
    report = run("inactive-members", shop, "SH01", "SH02", days=27)

    assert column(report, "name") == ["孙丽", "钱七", "王芳"]
    assert {r["name"]: r["idle_days"] for r in report.rows}["王芳"] == 27


def test_top_spenders_net_of_refunds(shop: dict[str, Any]) -> None:
    report = run("top-spenders", shop)

    assert [
        (r["rank"], r["name"], r["purchases"], r["charged_fen"], r["refunded_fen"], r["net_fen"])
        for r in report.rows
    ] == [
        (1, "张伟", 1, 30000, 10000, 20000),
        (2, "王芳", 1, 12000, 0, 12000),
        (3, "李雷", 1, 8000, 0, 8000),
    ]
    assert summary(report) == {"Members ranked": 3, "Net paid": 40000}
    assert report.chart is not None and report.chart.rows is not None
    assert [r["who"] for r in report.chart.rows] == ["张伟", "王芳", "李雷"]


def test_top_spenders_paged(shop: dict[str, Any]) -> None:
    params = ReportParams(*MARCH, None, page=2, page_size=2, language="en")
    report = REPORTS["top-spenders"].run(db.session(), params)

    assert [(r["rank"], r["name"]) for r in report.rows] == [(3, "李雷")]
    assert report.total_rows == 3
    assert report.chart is not None and report.chart.rows is not None
    assert [r["who"] for r in report.chart.rows] == ["张伟", "王芳", "李雷"]


def test_balances_with_totals(shop: dict[str, Any]) -> None:
    report = run("balances", shop)

    # A paid 120.00 from 500.00 + 50.00: the bonus part is 120.00 x 50/550 = 10.90.
    assert [
        (r["name"], r["points"], r["paid_fen"], r["bonus_fen"], r["stored_fen"])
        for r in report.rows
    ] == [
        ("王芳", 120, 39090, 3910, 43000),
        ("张伟", 200, 0, 0, 0),
        ("李雷", 80, 0, 0, 0),
        ("钱七", 10, 0, 0, 0),
    ]
    assert summary(report) == {
        "Members with a balance": 4,
        "Points": 410,
        "Stored value paid in": 39090,
        "Stored value bonus": 3910,
        "Stored value": 43000,
    }
    east = run("balances", shop, "SH02")
    assert column(east, "name") == ["张伟", "钱七"]


@pytest.mark.parametrize(("page", "names"), [(2, ["李雷", "钱七"]), (5, [])])
def test_balances_paged_keep_the_totals_of_everyone_listed(
    shop: dict[str, Any], page: int, names: list[str]
) -> None:
    """The totals come with the page's rows; past the last page they are still there."""
    params = ReportParams(*MARCH, None, page=page, page_size=2, language="en")
    report = REPORTS["balances"].run(db.session(), params)

    assert column(report, "name") == names
    assert report.total_rows == 4
    assert summary(report)["Points"] == 410 and summary(report)["Stored value"] == 43000


@pytest.fixture(params=[True, False], ids=["raw-cursor", "sqlalchemy"])
def prepared(request: pytest.FixtureRequest, app: Any) -> bool:
    """The birthdays' rows come through the prepared executor; with
    ``DB_PREPARED_STATEMENTS`` off, through SQLAlchemy: the same report either way."""
    app.extensions["laoyou.db"].prepared = request.param
    return bool(request.param)


def test_birthdays_solar_and_lunar_with_the_stated_rules(
    shop: dict[str, Any], prepared: bool
) -> None:
    report = run("birthdays", shop, dates=(dt.date(2026, 2, 1), dt.date(2026, 4, 30)))

    assert [(r["day"], r["name"], r["calendar"]) for r in report.rows] == [
        # Feb 29 in a common year: Feb 28.
        (dt.date(2026, 2, 28), "钱七", "Solar"),
        # Lunar 1-15 of 2026 is March 3rd.
        (dt.date(2026, 3, 3), "李雷", "Lunar"),
        (dt.date(2026, 3, 15), "王芳", "Solar"),
        # Leap 2nd month, and 2026 has no leap 2nd month: the ordinary 2-10, March 28th.
        (dt.date(2026, 3, 28), "孙丽", "Lunar, leap month"),
        (dt.date(2026, 3, 31), "赵敏", "Solar"),
        # Lunar 2-30, and the 2nd month of 2026 has 29 days: 2-29, April 16th.
        (dt.date(2026, 4, 16), "周杰", "Lunar"),
    ]
    assert report.rows[1]["stated"] == "1985-01-15"
    assert summary(report) == {"Birthdays": 6, "Of which lunar": 3}


def test_birthdays_this_month_of_one_store(shop: dict[str, Any], prepared: bool) -> None:
    report = run("birthdays", shop, "SH01")

    assert column(report, "name") == ["李雷", "王芳"]


def test_expiries_in_the_range(shop: dict[str, Any]) -> None:
    report = run("expiries", shop)
    cards = shop["cards"]

    # B's card ends in April; C's was cancelled.
    assert [(r["valid_until"], r["number"], r["type"], r["name"]) for r in report.rows] == [
        (dt.date(2026, 3, 20), cards["A_period"].number, "Period card", "王芳"),
        (dt.date(2026, 3, 25), cards["gift"].number, "Gift card", "Anonymous"),
    ]
    assert report.rows[1]["store"] == "北京一店 (BJ01)"  # an anonymous card: its store
    assert summary(report) == {"Cards expiring": 2}
    assert column(run("expiries", shop, "SH01"), "name") == ["王芳"]
    assert column(run("expiries", shop, "BJ01"), "name") == ["Anonymous"]


@pytest.mark.parametrize(
    ("name", "headline"),
    [
        ("members", "Members"),
        ("member-trend", "Members at the end"),
        ("new-members", "New members"),
        ("inactive-members", "Inactive members"),
        ("top-spenders", "Members ranked"),
        ("balances", "Members with a balance"),
        ("birthdays", "Birthdays"),
        ("expiries", "Cards expiring"),
    ],
)
def test_an_empty_chain_gives_empty_reports(app: Any, name: str, headline: str) -> None:
    params = ReportParams(*MARCH, None, language="en")
    report = REPORTS[name].run(db.session(), params)

    assert summary(report)[headline] == 0
    if name != "member-trend":  # a trend has a row per day, at zero
        assert report.rows == []
        assert report.total_rows == 0
