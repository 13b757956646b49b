"""The dashboard counts what the staff member's stores hold: all for the chain, one for a store."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from app import clock
from app.cards.services import member_cards
from app.ledger import operations
from app.stores.services import get_store

#: 10:00 in Shanghai on 7 December; the day before is 6 December.
NOW = dt.datetime(2026, 12, 7, 2, 0, tzinfo=dt.UTC)


def _counts(html: str) -> dict[str, int]:
    return {
        name: int(re.search(rf'id="{name}-count">(\d+)<', html).group(1))  # type: ignore[union-attr]
        for name in ("members", "cards", "transactions")
    }


def test_counts_for_the_chain_and_for_one_store(
    signed_in: Any, make_member: Any, make_store: Any
) -> None:
    make_store("SH01")
    make_store("BJ01")
    shanghai = [make_member(home_store="SH01") for _ in range(2)]
    beijing = make_member(home_store="BJ01")
    card = member_cards(shanghai[0])[0]
    bj_card = member_cards(beijing)[0]
    with clock.frozen(NOW - dt.timedelta(days=1)):
        operations.recharge(card, get_store("SH01"), 10_000, key="yesterday", actor=None)
    with clock.frozen(NOW):
        operations.recharge(card, get_store("SH01"), 5_000, key="today-1", actor=None)
        operations.checkout(
            card, get_store("SH01"), 1_000, "stored_value", key="today-2", actor=None
        )
        operations.recharge(bj_card, get_store("BJ01"), 5_000, key="today-bj", actor=None)
        admin = signed_in("admin")
        manager = signed_in("store_manager", username="mgr", store="SH01")

        chain = admin.get("/admin/")
        store = manager.get("/admin/")

    assert _counts(chain.text) == {"members": 3, "cards": 3, "transactions": 3}
    assert _counts(store.text) == {"members": 2, "cards": 2, "transactions": 2}
    assert "BJ01" in chain.text and "BJ01" not in store.text


def _nav_groups(html: str) -> list[tuple[str, list[str]]]:
    """The navigation's groups in order: (label, the rooms' link texts); "" above them all."""
    nav = html[html.index('<nav class="rooms"') : html.index("</nav>")]
    groups = []
    for section in nav.split("<section>")[1:]:
        label = re.search(r'<p class="group"[^>]*>([^<]+)</p>', section)
        links = re.findall(r"<a href=[^>]+>([^<]+)</a>", section)
        groups.append((label.group(1) if label else "", links))
    return groups


def test_the_rooms_are_grouped_and_a_group_without_a_room_for_you_is_left_out(
    signed_in: Any,
) -> None:
    admin = signed_in("admin", language="en")
    assert _nav_groups(admin.get("/admin/").text) == [
        ("", ["Dashboard"]),
        ("Members and balances", ["Members", "Adjust a balance", "Approvals"]),
        (
            "Marketing",
            ["Segments", "Broadcasts", "Promotions", "Activities", "Votes", "Draws"],
        ),
        ("Reports and operations", ["Reports", "Scheduled jobs", "Audit log", "System"]),
        (
            "Settings",
            ["Rules", "Message texts", "Questionnaire", "Stores", "Staff", "API keys"],
        ),
    ]
    cashier = signed_in("cashier", language="zh-Hans")
    groups = _nav_groups(cashier.get("/admin/").text)
    labels = [label for label, _ in groups]
    assert "设置" not in labels and "营销" not in labels
    assert all(links for _, links in groups)
    assert groups[0] == ("", ["概览"])
