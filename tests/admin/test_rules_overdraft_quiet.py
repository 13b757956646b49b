"""The rules room's overdraft limits per card type and the quiet hours on the alerts page:
saved as the import checks them, refused with a 400 that changes nothing, audited."""

from __future__ import annotations

import json
from typing import Any

import pytest

from app.ledger.rules.io import export_rules, import_rules
from app.messaging.compose import quiet_hours
from app.paths import example_rules
from tests.admin.test_rules_pages import audit, new_row, page_form, row_of

QUIET = "/admin/rules/alerts/quiet-hours"


@pytest.fixture
def example(app: Any, make_store: Any) -> dict[str, Any]:
    make_store("SH01")
    make_store("BJ01")
    import_rules(json.loads(example_rules().read_text(encoding="utf-8")))
    return export_rules()


# --- quiet hours ---------------------------------------------------------------------------


def test_quiet_hours_are_saved_shown_and_audited(app: Any, signed_in: Any) -> None:
    admin = signed_in("admin", username="boss", language="en")
    page = admin.get("/admin/rules/alerts")
    assert "from 21:00 to 09:00" in page.text
    assert "These are the service's settings" in page.text

    answer = admin.post(QUIET, {"start": "22:30", "end": "07:15"})

    assert answer.status_code == 302
    assert answer.headers["Location"] == "/admin/rules/alerts?saved=1"
    assert quiet_hours() == ("22:30", "07:15")
    page = admin.get("/admin/rules/alerts?saved=1")
    assert "from 22:30 to 07:15" in page.text and 'value="22:30"' in page.text
    assert "These are the service's settings" not in page.text
    [entry] = audit("quiet_hours.update")
    assert (entry.actor, entry.before, entry.after) == (
        "boss",
        {"quiet_hours": "21:00-09:00"},
        {"quiet_hours": "22:30-07:15"},
    )

    assert admin.post(QUIET, {"start": "22:30", "end": "07:15", "off": "on"}).status_code == 302
    assert quiet_hours() is None
    assert (
        "No quiet hours: marketing messages go out at any hour."
        in admin.get("/admin/rules/alerts").text
    )


@pytest.mark.parametrize(
    ("form", "why"),
    [
        ({"start": "9pm", "end": "09:00"}, "Enter the times as HH:MM"),
        ({"start": "", "end": ""}, "Enter the times as HH:MM"),
        ({"start": "25:00", "end": "09:00"}, "Enter the times as HH:MM"),
        ({"start": "21:00", "end": "09:00:00"}, "Enter the times as HH:MM"),
        ({"start": "21:00", "end": "9" * 5000}, "Enter the times as HH:MM"),
        ({"start": "21:00", "end": "21:00"}, "The end must differ from the start"),
    ],
)
def test_bad_quiet_hours_are_a_400_that_changes_nothing(
    app: Any, signed_in: Any, form: dict[str, str], why: str
) -> None:
    admin = signed_in("admin", language="en")
    answer = admin.post(QUIET, form)
    assert answer.status_code == 400
    assert "Not saved." in answer.text and why in answer.text
    assert quiet_hours() == ("21:00", "09:00")
    assert audit("quiet_hours.update") == []


def test_quiet_hours_are_refused_to_a_viewer_and_a_nul_byte(app: Any, signed_in: Any) -> None:
    assert signed_in("marketer").post(QUIET, {"start": "10:00", "end": "11:00"}).status_code == 403
    admin = signed_in("admin", language="en")
    assert admin.post(QUIET, {"start": "10:00\x00", "end": "11:00"}).status_code == 400
    assert quiet_hours() == ("21:00", "09:00")
    page = signed_in("store_manager", language="en").get("/admin/rules/alerts")
    assert page.status_code == 200 and QUIET not in page.text


def test_quiet_hours_page_in_chinese(app: Any, signed_in: Any) -> None:
    page = signed_in("admin").get("/admin/rules/alerts")
    assert "免打扰时段" in page.text
    assert "Save quiet hours" not in page.text


# --- overdraft limits per card type -----------------------------------------------------


def test_an_overdraft_limit_is_added_and_audited(example: dict[str, Any], signed_in: Any) -> None:
    admin = signed_in("admin", username="boss", language="en")
    form = page_form(admin, "/admin/rules/overdraft")
    row = row_of(form, "card_type", "stored_value")
    assert form[f"{row}.credit_limit_fen"] == ["0.00"]
    form[f"{row}.credit_limit_fen"] = ["100"]

    answer = admin.post("/admin/rules/overdraft", form)

    assert answer.status_code == 302, answer.text[:500]
    assert export_rules()["overdraft_limits"] == [
        {"card_type": "stored_value", "credit_limit_fen": 10000}
    ]
    entry = audit("rules.update")[-1]
    assert (entry.actor, entry.object_id, entry.before, entry.after) == (
        "boss",
        "overdraft",
        {"overdraft_limits": [{"card_type": "stored_value", "credit_limit_fen": 0}]},
        {"overdraft_limits": [{"card_type": "stored_value", "credit_limit_fen": 10000}]},
    )
    assert 'value="100.00"' in admin.get("/admin/rules/overdraft").text


@pytest.mark.parametrize(
    ("card_type", "amount", "why"),
    [
        ("points", "50", "must be 0: only a stored value card can be overdrawn"),
        ("stored_value", "abc", "Enter an amount in yuan"),
        ("stored_value", "100.001", "Enter an amount in yuan"),
        ("stored_value", "-5", "must be from 0.00 to 10000000.00"),
        ("stored_value", "99999999999", "must be from 0.00 to 10000000.00"),
        ("stored_value", "", "is required"),
        ("platinum", "10", "must be one of"),
    ],
)
def test_a_bad_overdraft_limit_is_a_400_that_changes_nothing(
    example: dict[str, Any], signed_in: Any, card_type: str, amount: str, why: str
) -> None:
    admin = signed_in("admin", language="en")
    form = page_form(admin, "/admin/rules/overdraft")
    n = new_row(form)
    form[f"{n}.card_type"] = [card_type]
    form[f"{n}.credit_limit_fen"] = [amount]
    answer = admin.post("/admin/rules/overdraft", form)
    assert answer.status_code == 400
    assert "Not saved." in answer.text and why in answer.text
    assert export_rules() == example


def test_the_overdraft_json_editor_checks_as_the_import(
    example: dict[str, Any], signed_in: Any
) -> None:
    admin = signed_in("admin", language="en")
    page = page_form(admin, "/admin/rules/json/overdraft_limits")
    page["document"] = ['[{"card_type": "gift", "credit_limit_fen": 100}]']
    answer = admin.post("/admin/rules/json/overdraft_limits", page)
    assert answer.status_code == 400
    assert "overdraft_limits[0].credit_limit_fen must be 0" in answer.text
    assert export_rules() == example
    assert signed_in("store_manager").post("/admin/rules/overdraft", {}).status_code == 403


def test_the_member_page_shows_the_limit_in_force(
    example: dict[str, Any], signed_in: Any, make_member: Any
) -> None:
    from app.cards.services import member_cards

    member = make_member("13800138077", card_type="stored_value", home_store="SH01")
    assert member_cards(member)[0].credit_limit_fen is None
    admin = signed_in("admin", language="en")
    page = admin.get(f"/admin/members/{member.id}")
    assert "Overdraft limit" not in page.text
    form = page_form(admin, "/admin/rules/overdraft")
    form[f"{row_of(form, 'card_type', 'stored_value')}.credit_limit_fen"] = ["250"]
    assert admin.post("/admin/rules/overdraft", form).status_code == 302
    page = admin.get(f"/admin/members/{member.id}")
    assert "Overdraft limit ¥250.00 (the rule for its card type)" in page.text
