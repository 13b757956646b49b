"""The report pages as staff use them: the page, the CSV as Excel reads it, scope, bad filters."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from html import unescape
from typing import Any

import pytest

from app import clock
from app.ledger import operations
from app.ledger.models import Transaction
from app.members.models import Member
from tests.reports.shop import CST, INJECTION, at, build

MARCH = "from=2026-03-01&to=2026-03-31"


@pytest.fixture
def shop(app: Any, make_store: Any, make_member: Any) -> dict[str, Any]:
    return build(make_store, make_member)


def excel_rows(response: Any) -> list[list[str]]:
    """The CSV as Excel reads it: UTF-8 with its BOM, then comma-separated rows."""
    assert response.status_code == 200, response.text[:500]
    assert response.mimetype == "text/csv"
    body = response.get_data()
    assert body.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))


def table_cells(html: str) -> list[list[str]]:
    body = html.split('<table id="report-table">', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr>(.*?)</tr>", body.split("<tbody>", 1)[1], re.S)
    return [[html_text(c) for c in re.findall(r"<td.*?</td>", row, re.S)] for row in rows]


def html_text(fragment: str) -> str:
    return unescape(re.sub(r"<[^>]+>", "", fragment)).strip()


def test_the_page_shows_summary_chart_and_table(shop: Any, signed_in: Any) -> None:
    admin = signed_in("admin")
    page = admin.get(f"/admin/reports/top-spenders?{MARCH}")

    assert page.status_code == 200
    assert "<h1>消费排行</h1>" in page.text
    assert '<div class="n">400.00</div>' in page.text  # net paid, in yuan
    assert table_cells(page.text)[0][:2] == ["1", "张伟"]
    assert table_cells(page.text)[0][-3:] == ["300.00", "100.00", "200.00"]
    chart = json.loads(
        re.search(r'id="report-chart-data">(.*?)</script>', page.text, re.S).group(1)  # type: ignore[union-attr]
    )
    assert chart["type"] == "bar"
    assert chart["labels"] == ["张伟", "王芳", "李雷"]
    assert chart["datasets"][0]["data"] == ["200.00", "120.00", "80.00"]
    assert "/assets/reports/chartjs/chart.umd.min.js" in page.text
    assert "cdn" not in page.text.lower()
    with admin.get("/assets/reports/chartjs/chart.umd.min.js") as script:
        assert script.status_code == 200 and b"Chart.js v4" in script.get_data()[:100]


def test_the_index_lists_every_report(shop: Any, signed_in: Any) -> None:
    page = signed_in("marketer").get("/admin/reports")

    assert page.status_code == 200
    for name in ("members", "member-trend", "birthdays", "expiries", "balances"):
        assert f'href="/admin/reports/{name}"' in page.text
    assert "会员分析" in page.text


def test_the_dates_default_to_this_month(shop: Any, signed_in: Any) -> None:
    admin = signed_in("admin")
    with at(3, 20):
        page = admin.get("/admin/reports/new-members")

    assert 'name="from" type="date" value="2026-03-01"' in page.text
    assert 'name="to" type="date" value="2026-03-31"' in page.text
    assert [row[1] for row in table_cells(page.text)] == ["李雷", "张伟", INJECTION]


def test_csv_opens_in_excel_with_chinese_headers_and_yuan(shop: Any, signed_in: Any) -> None:
    response = signed_in("admin").get(f"/admin/reports/top-spenders?format=csv&{MARCH}")

    assert (
        response.headers["Content-Disposition"]
        == 'attachment; filename="top-spenders-20260301-20260331.csv"'
    )
    rows = excel_rows(response)
    assert rows[0] == ["排名", "姓名", "手机号", "所属门店", "消费笔数", "实付", "退款", "净额"]
    assert rows[1] == [
        "1",
        "张伟",
        "'+8613800000003",
        "上海二店 (SH02)",
        "1",
        "300.00",
        "100.00",
        "200.00",
    ]
    assert len(rows) == 4


@pytest.mark.parametrize(
    ("language", "header", "calendar"),
    [
        ("en", ["Birthday this time", "Name", "Phone"], "Lunar"),
        ("zh-Hant", ["本次生日", "姓名", "手機號碼"], "農曆"),
    ],
)
def test_csv_headers_and_words_in_the_staff_members_language(
    shop: Any, signed_in: Any, language: str, header: list[str], calendar: str
) -> None:
    staff = signed_in("admin", username=f"boss-{language.lower()}", language=language)
    rows = excel_rows(staff.get(f"/admin/reports/birthdays?format=csv&{MARCH}"))

    assert rows[0][:3] == header
    assert rows[1][1] == "李雷" and rows[1][4] == calendar


def test_csv_cells_cannot_run_as_formulas(shop: Any, signed_in: Any) -> None:
    rows = excel_rows(signed_in("admin").get(f"/admin/reports/new-members?format=csv&{MARCH}"))

    names = [row[1] for row in rows[1:]]
    assert names == ["李雷", "张伟", "'" + INJECTION]
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)
    # Local times: C joined at 23:30 on the 2nd in Beijing.
    assert rows[2][0] == "2026-03-02 23:30"


def test_csv_holds_every_row_beyond_a_page(shop: Any, signed_in: Any, make_member: Any) -> None:
    with at(3, 15):
        for _ in range(60):
            make_member(home_store="SH01")
    admin = signed_in("admin")

    page = admin.get(f"/admin/reports/new-members?{MARCH}")
    assert len(table_cells(page.text)) == 50
    assert "第 1 页，共 2 页" in page.text
    second = admin.get(f"/admin/reports/new-members?{MARCH}&page=2")
    assert len(table_cells(second.text)) == 13
    rows = excel_rows(admin.get(f"/admin/reports/new-members?format=csv&{MARCH}"))
    assert len(rows) == 1 + 63


def test_a_store_manager_sees_only_their_store(shop: Any, signed_in: Any) -> None:
    manager = signed_in("store_manager", store="SH01")

    page = manager.get(f"/admin/reports/top-spenders?{MARCH}")
    assert [row[1] for row in table_cells(page.text)] == ["王芳", "李雷"]
    assert "上海二店" not in page.text.split("<table", 1)[0]  # not even in the store select
    rows = excel_rows(manager.get(f"/admin/reports/top-spenders?format=csv&{MARCH}"))
    assert [row[1] for row in rows[1:]] == ["王芳", "李雷"]
    east = manager.get(f"/admin/reports/top-spenders?{MARCH}&region=East")
    assert [row[1] for row in table_cells(east.text)] == ["王芳", "李雷"]
    assert manager.get(f"/admin/reports/top-spenders?{MARCH}&store=sh01").status_code == 200


@pytest.mark.parametrize(
    "query", ["store=SH02", "store=NOPE", "region=North", "store=SH01&region=North"]
)
def test_another_store_is_refused_to_a_store_manager(shop: Any, signed_in: Any, query: str) -> None:
    manager = signed_in("store_manager", store="SH01")

    response = manager.get(f"/admin/reports/balances?{query}")
    assert response.status_code == 403
    assert "无权访问" in response.text
    assert manager.get(f"/admin/reports/balances?{query}&format=csv").status_code == 403


def test_a_region_limits_the_chain(shop: Any, signed_in: Any) -> None:
    admin = signed_in("admin")

    north = admin.get(f"/admin/reports/expiries?{MARCH}&region=North")
    assert [row[5] for row in table_cells(north.text)] == ["不记名"]
    east = admin.get(f"/admin/reports/expiries?{MARCH}&region=East")
    assert [row[5] for row in table_cells(east.text)] == ["王芳"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("from=2026-13-01", "日期格式为 YYYY-MM-DD"),
        ("from=2026-3-1", "日期格式为 YYYY-MM-DD"),
        ("to=yesterday", "日期格式为 YYYY-MM-DD"),
        ("from=2026-03-31&to=2026-03-01", "开始日期晚于结束日期"),
        ("from=2025-01-01&to=2026-03-31", "报表最多覆盖 366 天"),
        ("from=0001-01-01&to=0001-01-31", "日期须在 1900 到 2099 年之间"),
        ("from=9999-12-01&to=9999-12-31", "日期须在 1900 到 2099 年之间"),
        ("from=2099-12-31&to=2100-01-01", "日期须在 1900 到 2099 年之间"),
        ("page=1.5", "page 须为 1 到 100000 之间的整数"),
        ("page=0", "page 须为 1 到 100000 之间的整数"),
        ("page=-1", "page 须为 1 到 100000 之间的整数"),
        ("page=99999999999999999999", "page 须为 1 到 100000 之间的整数"),
        ("page=１", "page 须为 1 到 100000 之间的整数"),
        ("days=0", "days 须为 1 到 3650 之间的整数"),
        ("days=1e3", "days 须为 1 到 3650 之间的整数"),
        ("store=NOPE", "没有门店 NOPE"),
        ("region=Atlantis", "没有区域 Atlantis"),
        ("store=" + "X" * 65, "筛选条件太长"),
        ("format=xlsx", "格式只能是 html 或 csv"),
    ],
)
def test_bad_filters_are_400_with_a_reason(
    shop: Any, signed_in: Any, query: str, message: str
) -> None:
    admin = signed_in("admin")
    before = admin.get("/admin/reports/inactive-members").status_code

    response = admin.get(f"/admin/reports/inactive-members?{query}")
    assert response.status_code == 400
    assert message in response.text
    assert 'role="alert"' in response.text
    csv_response = admin.get(f"/admin/reports/inactive-members?{query}&format=csv")
    assert csv_response.status_code == 400
    assert before == 200


@pytest.mark.parametrize("name", ["birthdays", "member-trend", "top-spenders", "expiries"])
def test_the_edges_of_the_calendar_are_pages_not_errors(
    shop: Any, signed_in: Any, name: str
) -> None:
    admin = signed_in("admin")

    for dates in ("from=1900-01-01&to=1900-01-31", "from=2099-12-01&to=2099-12-31"):
        assert admin.get(f"/admin/reports/{name}?{dates}").status_code == 200
        assert admin.get(f"/admin/reports/{name}?{dates}&format=csv").status_code == 200


def test_a_nul_in_a_filter_is_refused(shop: Any, signed_in: Any) -> None:
    response = signed_in("admin").get("/admin/reports/members?store=SH%0001")

    assert response.status_code == 400


def test_an_unknown_report_is_404(shop: Any, signed_in: Any) -> None:
    admin = signed_in("admin")

    assert admin.get("/admin/reports/nope").status_code == 404
    assert admin.get("/admin/reports/nope?format=csv").status_code == 404


def test_a_cashier_has_no_reports(shop: Any, signed_in: Any) -> None:
    cashier = signed_in("cashier", store="SH01")

    assert cashier.get(f"/admin/reports/members?format=csv&{MARCH}").status_code == 403
    assert 'href="/admin/reports"' not in cashier.get("/admin/").text


def test_reports_change_nothing(shop: Any, signed_in: Any) -> None:
    from sqlalchemy import func, select

    from app.db import db

    def counts() -> tuple[int, int]:
        return (
            db.session.scalar(select(func.count()).select_from(Transaction)) or 0,
            db.session.scalar(select(func.count()).select_from(Member)) or 0,
        )

    before = counts()
    admin = signed_in("admin")
    for name in ("members", "balances", "top-spenders", "inactive-members", "birthdays"):
        assert admin.get(f"/admin/reports/{name}?format=csv&{MARCH}").status_code == 200
    assert counts() == before


def tile(html: str, ident: str) -> str:
    block = html.split(f'id="{ident}"', 1)[1].split('<div class="card tile"', 1)[0]
    number = re.search(r'<div class="n">(.*?)</div>', block, re.S)
    assert number is not None
    return (
        re.sub(r"<[^>]+>", "", number.group(1)).strip()
        + " | "
        + re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", block.split("</div>", 2)[-1])).strip()
    )


def test_the_dashboard_shows_today_for_the_staff_members_scope(shop: Any, signed_in: Any) -> None:
    members = shop["members"]
    from app.cards.services import member_cards

    with at(3, 10, 16):
        # A buys 10.00 at SH01 and pays 1.00 of it with 100 of her 120 points.
        offset = operations.checkout(
            member_cards(members["A"])[0],
            shop["stores"]["SH01"],
            1000,
            "cash",
            key="a3",
            actor="test",
            points_offset=100,
        )
    # 10.00 less 1.00 of points is 9.00 paid, which earns 9 points.
    assert (offset.charged_fen, offset.points_earned) == (900, 9)
    admin = signed_in("admin")
    manager = signed_in("store_manager", store="SH01")
    with clock.frozen(dt.datetime(2026, 3, 10, 20, 0, tzinfo=CST)):
        chain = admin.get("/admin/").text
        own = manager.get("/admin/").text

    # The chain on March 10th: C's 300.00 at SH02 and A's sale at SH01.
    assert tile(chain, "today-sales").startswith("2 | 实付 309.00 元")
    assert tile(chain, "today-points-issued").startswith("309 |")
    assert tile(chain, "today-points-redeemed").startswith("100 |")
    assert tile(chain, "today-recharges").startswith("0 | 充值 0.00 元")
    assert tile(chain, "today-new-members").startswith("0")
    assert 'href="/admin/reports/new-members?from=2026-03-10&amp;to=2026-03-10"' in chain
    # SH01's manager: only A's sale.
    assert tile(own, "today-sales").startswith("1 | 实付 9.00 元")
    assert tile(own, "today-points-redeemed").startswith("100 |")
    assert tile(own, "today-points-issued").startswith("9 |")


def test_the_dashboard_counts_recharges_refunds_and_new_members(shop: Any, signed_in: Any) -> None:
    admin = signed_in("admin")
    with clock.frozen(dt.datetime(2026, 3, 3, 20, 0, tzinfo=CST)):
        recharge_day = admin.get("/admin/").text
    with clock.frozen(dt.datetime(2026, 3, 12, 20, 0, tzinfo=CST)):
        refund_day = admin.get("/admin/").text
    with clock.frozen(dt.datetime(2026, 3, 2, 23, 59, tzinfo=CST)):
        joining_day = admin.get("/admin/").text

    assert tile(recharge_day, "today-recharges").startswith("1 | 充值 500.00 元")
    assert tile(refund_day, "today-refunds").startswith("1 | 退款 100.00 元")
    # The refund took back the 100 points its 100.00 had earned.
    assert tile(refund_day, "today-points-issued").startswith("-100 |")
    assert tile(joining_day, "today-new-members").startswith("2")
