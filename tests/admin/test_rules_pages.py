"""The rules room: every section as a form or as JSON, checked by the import, audited.

The forms are read from the pages themselves (``page_form``) and posted back changed, as
a browser would: what the page shows is what the reader expects.
"""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from app.audit.models import AuditEntry
from app.db import db
from app.ledger.rules.io import export_rules, import_rules
from app.messaging.services import programme_alerts
from app.paths import example_rules
from tests.admin.conftest import Staff

Form = dict[str, list[str]]


class _FormReader(HTMLParser):
    """The values a browser would post from the page's first form under <main>."""

    def __init__(self, action: str) -> None:
        super().__init__()
        self.action, self.inside, self.done = action, False, False
        self.fields: Form = {}
        self.select: str | None = None
        self.select_first: str | None = None
        self.select_chosen = False
        self.textarea: str | None = None

    def _add(self, name: str, value: str) -> None:
        self.fields.setdefault(name, []).append(value)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and a.get("action") == self.action and not self.done:
            self.inside = True
        if not self.inside or "disabled" in a:
            return
        if tag == "input":
            kind = a.get("type", "text")
            if kind == "checkbox":
                if "checked" in a:
                    self._add(a["name"], a.get("value") or "on")
            elif "name" in a:
                self._add(a["name"], a.get("value", ""))
        elif tag == "select":
            self.select, self.select_first, self.select_chosen = a["name"], None, False
        elif tag == "option" and self.select is not None:
            if self.select_first is None:
                self.select_first = a.get("value", "")
            if "selected" in a:
                self._add(self.select, a.get("value", ""))
                self.select_chosen = True
        elif tag == "textarea":
            self.textarea = a["name"]
            self._add(a["name"], "")

    def handle_data(self, data: str) -> None:
        if self.inside and self.textarea is not None:
            self.fields[self.textarea][-1] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "select" and self.select is not None:
            if not self.select_chosen:
                self._add(self.select, self.select_first or "")
            self.select = None
        elif tag == "textarea":
            self.textarea = None
        elif tag == "form" and self.inside:
            self.inside, self.done = False, True


def page_form(staff: Staff, path: str) -> Form:
    page = staff.get(path)
    assert page.status_code == 200, page.text[:300]
    reader = _FormReader(path)
    reader.feed(page.text)
    assert reader.fields, f"no form posting to {path}"
    return reader.fields


def row_of(form: Form, key: str, value: str) -> int:
    """The form row whose ``key`` input holds ``value``."""
    for name, values in form.items():
        if name.endswith(f".{key}") and values == [value]:
            return int(name.split(".")[0])
    raise AssertionError(f"no row with {key} = {value}")


def new_row(form: Form) -> int:
    return int(next(name for name in form if name.endswith(".new")).split(".")[0])


def audit(action: str) -> list[AuditEntry]:
    return list(
        db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        )
    )


def rules_audits() -> int:
    return db.session.scalar(
        select(func.count()).select_from(AuditEntry).where(AuditEntry.action.like("rules.%"))
    )


@pytest.fixture
def example(app: Flask, make_store: Any) -> dict[str, Any]:
    """The example rules in force (stores SH01 and BJ01, three levels, plans, gifts)."""
    make_store("SH01")
    make_store("BJ01")
    import_rules(json.loads(example_rules().read_text(encoding="utf-8")))
    db.session.flush()
    return export_rules()


def test_the_overview_links_every_section_and_a_cashier_is_refused(
    example: dict[str, Any], signed_in: Any
) -> None:
    admin = signed_in("admin", language="en")
    page = admin.get("/admin/rules")
    assert page.status_code == 200
    for title, slug in (
        ("Levels", "levels"),
        ("Earning rate per store", "store-rates"),
        ("Earning rate per category", "category-rates"),
        ("Member days and holidays", "member-days"),
        ("Recharge bonus plans", "recharge-plans"),
        ("Points expiry", "points-expiry"),
        ("Birthday month", "birthday"),
        ("Sign-up gift and referral", "sign-up"),
        ("Gifts", "gifts"),
        ("Coupons and vouchers", "coupons"),
        ("Alerts and quiet hours", "alerts"),
    ):
        assert title in page.text
        assert f'href="/admin/rules/{slug}"' in page.text
    for section in ("earning", "levels", "redemption", "recharge_plans"):
        assert f'href="/admin/rules/json/{section}"' in page.text
    assert 'href="/admin/rules"' in page.text  # the navigation's line
    marketer = signed_in("marketer")
    assert "会员等级" in marketer.get("/admin/rules").text
    cashier = signed_in("cashier")
    refused = cashier.get("/admin/rules/levels")
    assert refused.status_code == 403
    assert "无权访问" in refused.text and "查看会员规则" in refused.text
    assert 'href="/admin/rules"' not in cashier.get("/admin/").text


def test_a_viewer_reads_the_forms_without_a_save_button(
    example: dict[str, Any], signed_in: Any
) -> None:
    manager = signed_in("store_manager", language="en")
    page = manager.get("/admin/rules/levels")
    assert page.status_code == 200
    assert 'value="银卡"' in page.text and " disabled" in page.text
    assert "<button>Save</button>" not in page.text
    assert (
        "<button>Save</button>" in signed_in("admin", language="en").get("/admin/rules/levels").text
    )


def test_a_level_gets_its_english_name_and_a_new_discount_audited(
    example: dict[str, Any], signed_in: Any
) -> None:
    admin = signed_in("admin", username="boss", language="en")
    form = page_form(admin, "/admin/rules/levels")
    silver = row_of(form, "name", "银卡")
    assert form[f"{silver}.discount_bp"] == ["95"]
    assert form[f"{silver}.points_multiplier_bp"] == ["1.2"]
    form[f"{silver}.names.en"] = ["Silver"]
    form[f"{silver}.names.zh-Hant"] = ["銀卡"]
    form[f"{silver}.discount_bp"] = ["92.5"]

    answer = admin.post("/admin/rules/levels", form)

    assert answer.status_code == 302, answer.text[:500]
    assert answer.headers["Location"] == "/admin/rules/levels?saved=1"
    levels = {lv["name"]: lv for lv in export_rules()["levels"]}
    assert levels["银卡"]["discount_bp"] == 9250
    assert levels["银卡"]["names"] == {"zh-Hant": "銀卡", "en": "Silver"}
    assert levels["金卡"] == {lv["name"]: lv for lv in example["levels"]}["金卡"]
    entry = audit("rules.update")[-1]
    assert (entry.actor_kind, entry.actor, entry.object_type, entry.object_id) == (
        "staff",
        "boss",
        "rules",
        "levels",
    )
    assert list(entry.before) == ["levels"] and list(entry.after) == ["levels"]
    assert entry.after["levels"][1]["names"]["en"] == "Silver"
    assert "en" not in entry.before["levels"][1]["names"]
    saved = admin.get(answer.headers["Location"])
    assert "Saved. The next checkout uses the new rules." in saved.text
    assert 'value="Silver"' in saved.text


def test_a_new_level_from_the_blank_row(example: dict[str, Any], signed_in: Any) -> None:
    admin = signed_in("admin")
    form = page_form(admin, "/admin/rules/levels")
    n = new_row(form)
    form.update(
        {
            f"{n}.name": ["钻石卡"],
            f"{n}.names.en": ["Diamond"],
            f"{n}.rank": ["4"],
            f"{n}.discount_bp": ["85"],
            f"{n}.points_multiplier_bp": ["2"],
            f"{n}.upgrade_threshold": ["20000"],
            f"{n}.keep_threshold": ["10000"],
        }
    )

    assert admin.post("/admin/rules/levels", form).status_code == 302

    diamond = export_rules()["levels"][-1]
    assert diamond == {
        "name": "钻石卡",
        "rank": 4,
        "discount_bp": 8500,
        "points_multiplier_bp": 20000,
        "upgrade_threshold": 20000,
        "keep_threshold": 10000,
        "names": {"en": "Diamond"},
    }


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        (
            "name",
            "银" * 65,
            "Row 2 · Name (in rules and reports): must be text of 1 to 64 characters",
        ),
        ("names.en", "S" * 65, "Row 2 · Name in English: must be text of 1 to 64 characters"),
        ("name", "   ", "Row 2 · Name (in rules and reports): is required"),
        ("rank", "99999999999999999999999999", "Enter a whole number."),
        ("rank", "5000000000", "Row 2 · Rank (1 is the lowest): must be from 1 to 2147483647"),
        ("rank", "3", "Row 3 · Rank (1 is the lowest): repeats 3"),
        ("points_multiplier_bp", "1e309", "Row 2 · Points (times): Enter a number such as 1"),
        ("points_multiplier_bp", "100000000", "must be from 0 to 1000000"),
        ("discount_bp", "95.125", "That has too many decimal places."),
        ("discount_bp", "-5", "must be from 1 to 10000"),
        ("upgrade_threshold", "1.5", "Enter a whole number."),
    ],
)
def test_bad_input_is_refused_beside_its_field_and_changes_nothing(
    example: dict[str, Any], signed_in: Any, key: str, value: str, message: str
) -> None:
    admin = signed_in("admin", language="en")
    form = page_form(admin, "/admin/rules/levels")
    silver = row_of(form, "name", "银卡")
    form[f"{silver}.{key}"] = [value]

    answer = admin.post("/admin/rules/levels", form)

    assert answer.status_code == 400
    assert "Not saved." in answer.text
    assert message in answer.text, answer.text[answer.text.find("Not saved") :][:300]
    assert f'name="{silver}.{key}"' in answer.text  # the typed value is shown again
    assert export_rules() == example
    assert rules_audits() == 0


def test_a_nul_in_a_form_is_refused_and_changes_nothing(
    example: dict[str, Any], signed_in: Any
) -> None:
    admin = signed_in("admin", language="en")
    form = page_form(admin, "/admin/rules/levels")
    form["0.name"] = ["普通\x00会员"]

    answer = admin.post("/admin/rules/levels", form)

    assert answer.status_code == 400
    assert "NUL" in answer.text
    assert export_rules() == example


def test_member_days_recharge_plans_expiry_and_sign_up(
    example: dict[str, Any], signed_in: Any
) -> None:
    admin = signed_in("admin")

    form = page_form(admin, "/admin/rules/member-days")
    assert form[f"{row_of(form, 'name', '会员日')}.weekdays"] == ["3"]
    n = new_row(form)
    form.update(
        {
            f"{n}.name": ["周末双倍"],
            f"{n}.multiplier_bp": ["2"],
            f"{n}.weekdays": ["6", "7"],
            f"{n}.month_days": ["1, 15"],
        }
    )
    assert admin.post("/admin/rules/member-days", form).status_code == 302

    form = page_form(admin, "/admin/rules/recharge-plans")
    assert form[f"{row_of(form, 'name', '充500送50')}.min_amount_fen"] == ["500.00"]
    n = new_row(form)
    form.update(
        {
            f"{n}.name": ["银卡充300送30"],
            f"{n}.min_amount_fen": ["300"],
            f"{n}.bonus_fen": ["30.5"],
            f"{n}.levels": ["银卡"],
            f"{n}.card_types": ["stored_value"],
        }
    )
    assert admin.post("/admin/rules/recharge-plans", form).status_code == 302

    form = page_form(admin, "/admin/rules/points-expiry")
    form.update({"mode": ["months"], "months": ["24"]})
    assert admin.post("/admin/rules/points-expiry", form).status_code == 302

    form = page_form(admin, "/admin/rules/sign-up")
    assert form == {
        "csrf_token": form["csrf_token"],
        "revision": form["revision"],
        "signup_points": ["100"],
        "referral_points": ["200"],
    }
    form.update({"signup_points": ["50"], "referral_points": ["0"]})
    assert admin.post("/admin/rules/sign-up", form).status_code == 302

    rules = export_rules()
    assert rules["earning"]["special_periods"][-1] == {
        "name": "周末双倍",
        "multiplier_bp": 20000,
        "weekdays": [6, 7],
        "month_days": [1, 15],
    }
    assert rules["recharge_plans"][-1] == {
        "name": "银卡充300送30",
        "min_amount_fen": 30000,
        "bonus_fen": 3050,
        "bonus_bp": 0,
        "repeat": False,
        "levels": ["银卡"],
        "card_types": ["stored_value"],
    }
    assert rules["points_expiry"] == {"mode": "months", "months": 24}
    assert (rules["earning"]["signup_points"], rules["earning"]["referral_points"]) == (50, 0)
    # The sign-up form changed its own two fields of `earning`, nothing else of it.
    assert rules["earning"]["stores"] == example["earning"]["stores"]
    assert rules["earning"]["birthday_multiplier_bp"] == 20000
    assert [e.object_id for e in audit("rules.update")] == [
        "member-days",
        "recharge-plans",
        "points-expiry",
        "sign-up",
    ]
    assert audit("rules.update")[-1].before == {
        "earning": {"referral_points": 200, "signup_points": 100}
    }


def test_a_removed_gift_is_switched_off(example: dict[str, Any], signed_in: Any) -> None:
    admin = signed_in("admin")
    form = page_form(admin, "/admin/rules/gifts")
    form[f"{row_of(form, 'code', 'MUG')}.remove"] = ["on"]
    tote = row_of(form, "code", "TOTE")
    form[f"{tote}.stock"] = [""]  # unlimited

    assert admin.post("/admin/rules/gifts", form).status_code == 302

    gifts = {g["code"]: g for g in export_rules()["redemption"]["gifts"]}
    assert gifts["MUG"]["active"] is False
    assert gifts["TOTE"] == {
        "code": "TOTE",
        "name": "帆布袋",
        "points_cost": 300,
        "stock": None,
        "active": True,
    }


def test_a_changed_store_rate_applies_at_the_next_api_checkout(
    signed_in: Any, make_member: Any, api: Any
) -> None:
    member = make_member(home_store="SH01")
    import_rules({"version": 1})
    db.session.flush()

    def checkout(key: str) -> int:
        answer = api.post(
            "/api/v1/checkout",
            {"card": member.phone, "store": "SH01", "amount_fen": 10000, "pay_with": "cash"},
            headers={"Idempotency-Key": key},
        )
        assert answer.status_code == 201, answer.json
        return int(answer.json["points_earned"])

    assert checkout("before") == 100
    admin = signed_in("admin")
    form = page_form(admin, "/admin/rules/store-rates")
    n = new_row(form)
    form.update({f"{n}.store": ["SH01"], f"{n}.name": ["静安店三倍"], f"{n}.multiplier_bp": ["3"]})
    assert admin.post("/admin/rules/store-rates", form).status_code == 302

    assert checkout("after") == 300


def test_the_json_editor_checks_as_the_import_does(example: dict[str, Any], signed_in: Any) -> None:
    admin = signed_in("admin", username="boss", language="en")
    form = page_form(admin, "/admin/rules/json/redemption")
    shown = json.loads(form["document"][0])
    assert shown == example["redemption"]

    for text, message in (
        ("{not json", "This is not valid JSON"),
        ("[" * 5000 + "]" * 5000, "This is not valid JSON"),
        ('{"gifts": [{"code": "MUG"}]}', "redemption.gifts[0].name is required"),
        ('{"max_offset_bp": 1e400}', "redemption.max_offset_bp must be a whole number"),
        ('{"offset_points_per_yuan": 10000000000000}', "must be from 1 to 2147483647"),
        ('{"free_lunch": true}', "redemption.free_lunch is not a known field"),
    ):
        answer = admin.post("/admin/rules/json/redemption", {**form, "document": text})
        assert answer.status_code == 400, text
        assert message in answer.text, answer.text[answer.text.find("Not saved") :][:300]
        assert text[:30].replace('"', "&#34;") in answer.text  # kept for the next try
    assert export_rules() == example
    assert rules_audits() == 0

    shown["max_offset_bp"] = 3000
    answer = admin.post("/admin/rules/json/redemption", {**form, "document": json.dumps(shown)})
    assert answer.status_code == 302
    assert export_rules()["redemption"]["max_offset_bp"] == 3000
    entry = audit("rules.update")[-1]
    assert (entry.actor, entry.object_id) == ("boss", "redemption")
    assert (entry.before, entry.after) == (
        {"redemption": {"max_offset_bp": 5000}},
        {"redemption": {"max_offset_bp": 3000}},
    )
    assert admin.get("/admin/rules/json/nothing").status_code == 404
    assert admin.get("/admin/rules/nothing").status_code == 404


def test_a_form_opened_before_another_change_is_refused(
    example: dict[str, Any], signed_in: Any
) -> None:
    first = signed_in("admin", username="boss", language="en")
    second = signed_in("admin", username="boss2")
    form_one = page_form(first, "/admin/rules/birthday")
    form_two = page_form(second, "/admin/rules/birthday")
    form_two["birthday_multiplier_bp"] = ["3"]
    assert second.post("/admin/rules/birthday", form_two).status_code == 302

    form_one["birthday_multiplier_bp"] = ["1.5"]
    answer = first.post("/admin/rules/birthday", form_one)

    assert answer.status_code == 409
    assert "Someone changed the rules since you opened this page" in answer.text
    assert 'value="3"' in answer.text
    assert export_rules()["earning"]["birthday_multiplier_bp"] == 30000


def test_the_alert_switches_are_saved_and_audited(
    app: Flask, example: dict[str, Any], signed_in: Any
) -> None:
    admin = signed_in("admin", username="boss", language="en")
    page = admin.get("/admin/rules/alerts")
    assert "21:00" in page.text and "09:00" in page.text  # the quiet hours in force
    form = page_form(admin, "/admin/rules/alerts")
    assert form["alert:low_balance"] == ["on"]
    del form["alert:low_balance"]

    assert admin.post("/admin/rules/alerts", form).status_code == 302

    assert programme_alerts() == {
        "transaction": True,
        "low_balance": False,
        "level": True,
        "points_expiring": True,
    }
    [entry] = audit("alerts.programme")
    assert (entry.actor, entry.object_id, entry.before, entry.after) == (
        "boss",
        "low_balance",
        {"enabled": True},
        {"enabled": False},
    )
    marketer = signed_in("marketer")
    assert marketer.get("/admin/rules/alerts").status_code == 200
    assert marketer.post("/admin/rules/alerts", {}).status_code == 403
    assert programme_alerts()["transaction"] is True


def test_the_export_download_is_the_cli_export(example: dict[str, Any], signed_in: Any) -> None:
    answer = signed_in("marketer").get("/admin/rules/rules.json")
    assert answer.status_code == 200
    assert "attachment" in answer.headers["Content-Disposition"]
    assert json.loads(answer.data) == example


def test_the_cli_import_is_audited_as_the_cli(
    app: Flask, make_store: Any, runner: Any, tmp_path: Path
) -> None:
    make_store("SH01")
    make_store("BJ01")
    result = runner.invoke(args=["rules", "import", str(example_rules())])
    assert result.exit_code == 0, result.output
    [entry] = audit("rules.import")
    assert (entry.actor_kind, entry.object_type, entry.object_id) == ("cli", "rules", "document")
    assert entry.after["points_expiry"] == {"mode": "end_of_next_year"}
    assert entry.before["points_expiry"] == {"mode": "never"}

    bad = tmp_path / "bad.json"
    bad.write_text('{"levels": [{"name": "x"}]}', encoding="utf-8")
    assert runner.invoke(args=["rules", "import", str(bad)]).exit_code == 1
    assert len(audit("rules.import")) == 1


def test_the_cli_alert_switch_is_audited_as_the_cli(app: Flask, runner: Any) -> None:
    assert runner.invoke(args=["alerts", "disable", "level"]).exit_code == 0
    assert runner.invoke(args=["alerts", "disable", "level"]).exit_code == 0  # no change

    [entry] = audit("alerts.programme")
    assert (entry.actor_kind, entry.object_id, entry.after) == ("cli", "level", {"enabled": False})


def test_a_plan_without_a_bonus_is_refused_in_the_staff_members_language(
    example: dict[str, Any], signed_in: Any
) -> None:
    admin = signed_in("admin")  # zh-Hans
    form = page_form(admin, "/admin/rules/recharge-plans")
    n = new_row(form)
    form.update({f"{n}.name": ["空方案"], f"{n}.min_amount_fen": ["100"]})

    answer = admin.post("/admin/rules/recharge-plans", form)

    assert answer.status_code == 400
    assert "未保存。第 4 行: 需要填写赠送金额或赠送百分比" in answer.text
    assert 'value="空方案"' in answer.text
    assert export_rules() == example


def test_categories_listed_then_a_rate_must_name_one(
    example: dict[str, Any], signed_in: Any
) -> None:
    admin = signed_in("admin", language="en")
    form = page_form(admin, "/admin/rules/categories")
    for code, kind, zh in (
        ("seasonal", "product", "时令菜"),
        ("gift_card", "product", "礼品卡"),
        ("tobacco", "product", "烟草"),
        ("美容类", "service", "美容类"),
    ):
        n = new_row(form)
        form.update(
            {
                f"{n}.code": [code],
                f"{n}.kind": [kind],
                f"{n}.names.zh-Hans": [zh],
                "rows": [str(n + 2)],
                f"{n + 1}.new": ["1"],
            }
        )
        del form[f"{n}.new"]
    assert admin.post("/admin/rules/categories", form).status_code == 302
    assert [c["code"] for c in export_rules()["categories"]] == [
        "gift_card",
        "seasonal",
        "tobacco",
        "美容类",
    ]

    form = page_form(admin, "/admin/rules/category-rates")
    n = new_row(form)
    form.update({f"{n}.category": ["美容"], f"{n}.multiplier_bp": ["2"]})
    answer = admin.post("/admin/rules/category-rates", form)

    assert answer.status_code == 400
    assert "Row 2 · Category: names no category &#39;美容&#39;" in answer.text
    assert len(export_rules()["earning"]["categories"]) == 1


@pytest.mark.parametrize("rows", [None, "", "x", "-1", "１", "100000"])
def test_a_list_form_without_its_row_count_deletes_nothing(
    example: dict[str, Any], signed_in: Any, rows: str | None
) -> None:
    admin = signed_in("admin", language="en")
    form = page_form(admin, "/admin/rules/gifts")
    if rows is None:
        del form["rows"]
    else:
        form["rows"] = [rows]

    answer = admin.post("/admin/rules/gifts", form)

    assert answer.status_code == 400
    assert "This form is incomplete" in answer.text
    assert export_rules() == example
