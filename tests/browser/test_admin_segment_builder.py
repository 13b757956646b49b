"""The segment builder in a real browser: a nested segment built by clicks, keys and typing,
its live count against hand-counted members, saved, reopened with the same groups; the
same page by touch in Traditional Chinese and in English."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from app.db import db, unit_of_work
from tests.browser.conftest import screenshot
from tests.browser.test_admin_setup import PASSWORD, sign_in

pytestmark = pytest.mark.concurrent

#: (level = 金卡 OR points >= 1000) AND opted in to SMS AND NOT home store BJ01.
EXPECTED = {
    "all": [
        {
            "any": [
                {"field": "level", "op": "in", "value": ["金卡"]},
                {"field": "points", "op": "gte", "value": 1000},
            ]
        },
        {"field": "opted_in", "op": "eq", "value": "sms"},
        {"not": {"field": "home_store", "op": "in", "value": ["BJ01"]}},
    ]
}


@pytest.fixture
def members(live_app: Flask) -> dict[str, str]:
    """Seven members, and who of them the segment above holds (counted by hand):

    ===  =====  ======  =====  =========  =======
         level  points  store  SMS        in it?
    ===  =====  ======  =====  =========  =======
    m1   金卡   0       SH01   opted in   yes
    m2   银卡   1000    SH01   opted in   yes (points)
    m3   银卡   999     SH01   opted in   no (one point short)
    m4   金卡   0       SH01   opted out  no
    m5   金卡   0       BJ01   opted in   no (the store is excluded)
    m6   银卡   1200    BJ01   opted in   no (the store is excluded)
    m7   银卡   0       SH01   opted in   no
    ===  =====  ======  =====  =========  =======
    """
    from app.auth.services import create_staff
    from app.cards.services import enroll, member_cards
    from app.ledger.operations import checkout
    from app.members.models import Level
    from app.optout.services import opt_out
    from app.stores.services import create_store

    rows = [
        ("m1", "金卡", 0, "SH01", True),
        ("m2", "银卡", 1000, "SH01", True),
        ("m3", "银卡", 999, "SH01", True),
        ("m4", "金卡", 0, "SH01", False),
        ("m5", "金卡", 0, "BJ01", True),
        ("m6", "银卡", 1200, "BJ01", True),
        ("m7", "银卡", 0, "SH01", True),
    ]
    phones = {}
    with unit_of_work():
        stores = {"SH01": create_store("SH01", "静安店", "华东"), "BJ01": None}
        stores["BJ01"] = create_store("BJ01", "朝阳店", "华北")
        silver = Level(name="银卡", rank=1, discount_bp=10000, points_multiplier_bp=10000)
        gold = Level(
            name="金卡",
            rank=2,
            discount_bp=10000,
            points_multiplier_bp=10000,
            upgrade_threshold=10**9,
        )
        db.session.add_all([silver, gold])
        db.session.flush()
        for n, (name, level, points, store, sms) in enumerate(rows, start=1):
            phone = f"+861370000{n:02d}00"
            member = enroll({"phone": phone, "home_store": store, "name": name})
            member.level = gold if level == "金卡" else silver
            db.session.flush()
            if points:
                # One point per yuan spent (the default rules).
                checkout(
                    member_cards(member)[0],
                    stores[store],
                    points * 100,
                    "cash",
                    key=f"builder-{name}",
                    actor="test",
                )
            if not sms:
                opt_out("sms", phone, source="test")
            phones[name] = phone
        create_staff("mia", PASSWORD, role="marketer", display_name="市场部小米")
    db.session.remove()
    return phones


def _masked(phone: str) -> str:
    return phone[:6] + "****" + phone[-4:]


def test_a_nested_segment_built_counted_saved_and_reopened(
    page: Any, live_server: str, members: dict[str, str], backend: Any
) -> None:
    sign_in(page, live_server, "mia")
    page.goto(live_server + "/admin/segments/new")
    root = page.locator("#builder > fieldset")
    assert root.locator("[data-mode]").first.input_value() == "all"
    assert "尚无条件：全部会员都符合。" in root.inner_text()
    # The JSON is folded away once the builder stands for it.
    assert page.locator("#json-box").get_attribute("open") is None

    # (level = 金卡 OR points >= 1000): a group, by clicks and typing.
    root.locator(":scope > .actions").get_by_role("button", name="添加条件组").click()
    either = root.locator(":scope > ul > li > fieldset").nth(0)
    assert either.locator("[data-mode]").first.input_value() == "any"
    first = either.locator("[data-condition]").nth(0)
    first.locator("[data-field]").select_option("level")
    ops = first.locator("[data-op] option").all_inner_texts()
    assert ops == ["属于其一（a, b, …）", "此等级或更高"]
    first.locator("[data-value]").fill("金卡")
    # The second condition of the group by keyboard alone: Enter on the button, then the
    # new condition's controls in tab order.
    either.locator(":scope > .actions [data-add-condition]").focus()
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.hasAttribute('data-field')")
    page.locator(":focus").select_option("points")
    page.keyboard.press("Tab")
    page.locator(":focus").select_option("gte")
    page.keyboard.press("Tab")
    page.keyboard.type("1000")

    # AND opted in to SMS (a choice, so a list to pick from).
    root.locator(":scope > .actions [data-add-condition]").click()
    sms = root.locator(":scope > ul > li > [data-condition]").nth(0)
    sms.locator("[data-field]").select_option("opted_in")
    assert sms.locator("[data-value]").input_value() == "sms"

    # AND NOT (home store BJ01): a group switched to "none of these".
    root.locator(":scope > .actions [data-add-group]").click()
    excluded = root.locator(":scope > ul > li > fieldset").nth(1)
    excluded.locator("[data-mode]").first.select_option("none")
    store = excluded.locator("[data-condition]").nth(0)
    store.locator("[data-field]").select_option("home_store")
    store.locator("[data-value]").fill("BJ01")

    # Counted by hand: m1 and m2.
    page.wait_for_function("document.getElementById('count').textContent === '2'")
    assert page.locator("#problem").is_hidden()
    assert page.locator("#sample").inner_text().split("\n") == [
        f"{i}\t{_masked(members[m])}\t{m}" for i, m in _ids(("m1", "m2"))
    ]
    assert json.loads(page.locator("#definition").input_value()) == EXPECTED

    # A mistake is shown on its condition; mending it brings the count back.
    store.locator("[data-value]").fill("ZZ99")
    page.wait_for_function("!document.getElementById('problem').hidden")
    assert page.locator("#problem").inner_text() == "没有代码为 ZZ99 的门店。"
    assert "invalid" in (store.get_attribute("class") or "")
    screenshot(page, f"admin-segment-builder-refused-{backend['name']}")
    store.locator("[data-value]").fill("BJ01")
    page.wait_for_function("document.getElementById('count').textContent === '2'")
    assert "invalid" not in (store.get_attribute("class") or "")

    page.fill("input[name=name]", "金卡或千分会员（北京除外）")
    screenshot(page, f"admin-segment-builder-{backend['name']}")
    page.get_by_role("button", name="保存").click()
    page.wait_for_url("**/admin/segments?done=*")

    from app.campaigns.models import Segment

    saved = db.session.scalars(select(Segment)).one()
    assert saved.definition == EXPECTED
    db.session.remove()

    # Reopened: the same groups, modes, conditions and values, and the same count.
    page.locator("tr", has_text="金卡或千分会员").get_by_role("link", name="编辑").click()
    page.wait_for_url(f"**/admin/segments/{saved.id}")
    assert page.locator("#count").inner_text() == "2"
    root = page.locator("#builder > fieldset")
    groups = root.locator(":scope > ul > li > fieldset")
    assert [groups.nth(i).locator("[data-mode]").first.input_value() for i in (0, 1)] == [
        "any",
        "none",
    ]
    shown = [
        (
            row.locator("[data-field]").input_value(),
            row.locator("[data-op]").input_value(),
            row.locator("[data-value]").input_value(),
        )
        for row in root.locator("[data-condition]").all()
    ]
    assert shown == [
        ("level", "in", "金卡"),
        ("points", "gte", "1000"),
        ("opted_in", "eq", "sms"),
        ("home_store", "in", "BJ01"),
    ]
    screenshot(page, f"admin-segment-builder-reopened-{backend['name']}")

    # Removing the NOT group widens the segment: m5 and m6 of BJ01 come in.
    groups.nth(1).get_by_role("button", name="删除此条件组").click()
    page.wait_for_function("document.getElementById('count').textContent === '4'")
    assert page.evaluate("document.activeElement.hasAttribute('data-add-condition')")


def _ids(names: tuple[str, ...]) -> list[tuple[int, str]]:
    from app.members.models import Member

    found = {name: id_ for name, id_ in db.session.execute(select(Member.name, Member.id))}
    db.session.remove()
    return [(found[n], n) for n in names]


@pytest.mark.parametrize(
    ("language", "add_group", "none_of", "label"),
    [
        ("zh-Hant", "新增條件組", "以下條件都不滿足（非）", "條件組：滿足"),
        ("en", "Add a group", "none of these (NOT)", "Group matching"),
    ],
)
def test_the_builder_by_touch_in_each_language(
    browser: Any,
    live_server: str,
    members: dict[str, str],
    backend: Any,
    language: str,
    add_group: str,
    none_of: str,
    label: str,
) -> None:
    context = browser.new_context(
        locale="zh-CN", viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True
    )
    page = context.new_page()
    try:
        sign_in(page, live_server, "mia")
        page.goto(live_server + "/admin/segments/new")
        with page.expect_navigation():
            page.locator("select[name=language]").select_option(language)
        page.get_by_role("button", name=add_group).tap()
        group = page.locator("#builder > fieldset > ul > li > fieldset")
        assert group.get_by_label(label).input_value() == "any"
        group.get_by_label(label).select_option(label=none_of)
        group.locator("[data-field]").select_option("opted_in")
        # NOT (opted in to SMS): m4, the one member who opted out.
        page.wait_for_function("document.getElementById('count').textContent === '1'")
        assert json.loads(page.locator("#definition").input_value()) == {
            "all": [{"not": {"field": "opted_in", "op": "eq", "value": "sms"}}]
        }
        screenshot(page, f"admin-segment-builder-touch-{language}-{backend['name']}")
    finally:
        context.close()
