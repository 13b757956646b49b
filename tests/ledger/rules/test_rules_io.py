"""`laoyou rules import` / `export`: a bad one names its field, writes nothing."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from app.db import db
from app.errors import InvalidRequest
from app.ledger.redemption.models import Gift
from app.ledger.rules.engine import current_rules
from app.ledger.rules.io import export_rules, import_rules
from app.ledger.rules.models import EarningRule, ProgramRules, RechargePlan
from app.members.models import Level

EXAMPLE = Path(__file__).parents[3] / "docs" / "rules.example.json"


@pytest.fixture
def doc(app: Any, make_store: Any) -> dict[str, Any]:
    for code in ("SH01", "SH02", "BJ01"):
        make_store(code)
    return json.loads(EXAMPLE.read_text(encoding="utf-8"))


def count(model: Any) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_example_imports_and_exports_unchanged(doc: dict[str, Any]) -> None:
    counts = import_rules(doc)
    assert counts == {
        "earning_rules": 4,
        "card_discounts": 1,
        "overdraft_limits": 1,
        "recharge_plans": 3,
        "levels": 3,
        "gifts": 2,
        "coupon_types": 2,
        "categories": 0,
    }
    exported = export_rules()
    again = copy.deepcopy(exported)
    import_rules(again)
    assert export_rules() == exported
    assert exported["earning"]["special_periods"][0] == {
        "name": "会员日",
        "multiplier_bp": 15000,
        "weekdays": [3],
        "month_days": [],
    }
    assert [lv["name"] for lv in exported["levels"]] == ["普通会员", "银卡", "金卡"]
    assert exported["levels"][2]["keep_threshold"] == 2000
    rules = current_rules()
    assert rules.points_per_yuan_bp == 10000
    assert rules.card_discounts == {"stored_value": 9800}
    assert rules.expiry_mode == "end_of_next_year"


def test_reimport_replaces_rules_and_updates_levels_in_place(doc: dict[str, Any]) -> None:
    import_rules(doc)
    gold_id = db.session.scalar(select(Level.id).where(Level.name == "金卡"))
    doc["recharge_plans"] = doc["recharge_plans"][:1]
    doc["levels"][2]["discount_bp"] = 8800
    # Swap the ranks of two levels: must not trip the unique rank.
    doc["levels"][1]["rank"], doc["levels"][2]["rank"] = 3, 2
    doc["redemption"]["gifts"] = doc["redemption"]["gifts"][:1]
    import_rules(doc)
    assert count(RechargePlan) == 1
    gold = db.session.get(Level, gold_id)
    assert (gold.discount_bp, gold.rank) == (8800, 2)
    assert db.session.scalar(select(Gift.active).where(Gift.code == "TOTE")) is False
    assert count(Level) == 3


def _set(doc: dict[str, Any], path: list[Any], value: Any) -> dict[str, Any]:
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return doc


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (["version"], 2, "version"),
        (["earning", "points_per_yuan_bp"], 1.5, "earning.points_per_yuan_bp"),
        (["earning", "points_per_yuan_bp"], -1, "earning.points_per_yuan_bp"),
        (["earning", "multiplier_combination"], "add", "earning.multiplier_combination"),
        (["earning", "stores", 0, "multiplier_bp"], "1.2", "earning.stores[0].multiplier_bp"),
        (["earning", "stores", 0, "store"], "XX99", "earning.stores[0].store"),
        (
            ["earning", "special_periods", 0, "weekdays"],
            [8],
            "earning.special_periods[0].weekdays[0]",
        ),
        (
            ["earning", "special_periods", 1, "ends_on"],
            "2027-02-01",
            "earning.special_periods[1].ends_on",
        ),
        (
            ["earning", "special_periods", 1, "starts_on"],
            "5 Feb",
            "earning.special_periods[1].starts_on",
        ),
        (["earning", "pointz"], 1, "earning.pointz"),
        (["discounts", "stacking"], "sum", "discounts.stacking"),
        (["discounts", "card_types", 0, "discount_bp"], 0, "discounts.card_types[0].discount_bp"),
        (
            ["discounts", "card_types", 0, "card_type"],
            "platinum",
            "discounts.card_types[0].card_type",
        ),
        (["levels", 1, "rank"], 1, "levels[1].rank"),
        (["levels", 1, "discount_bp"], 10001, "levels[1].discount_bp"),
        (["levels", 1, "name"], "", "levels[1].name"),
        (["growth", "source"], "visits", "growth.source"),
        (["recharge_plans", 2, "levels"], ["钻石卡"], "recharge_plans[2].levels[0]"),
        (["recharge_plans", 0, "min_amount_fen"], 0, "recharge_plans[0].min_amount_fen"),
        (["recharge_plans", 1, "name"], "充500送50", "recharge_plans[1].name"),
        (["points_expiry", "mode"], "months", "points_expiry.months"),
        (["redemption", "offset_points_per_yuan"], 0, "redemption.offset_points_per_yuan"),
        (["redemption", "gifts", 0, "stock"], -1, "redemption.gifts[0].stock"),
        (["redemption", "coupon_types", 0, "value_fen"], 0, "redemption.coupon_types[0].value_fen"),
        (["redemption", "coupon_types", 1, "kind"], "cash", "redemption.coupon_types[1].kind"),
    ],
)
def test_a_bad_document_names_the_field_and_writes_nothing(
    doc: dict[str, Any], path: list[Any], value: Any, field: str
) -> None:
    with pytest.raises(InvalidRequest) as err:
        import_rules(_set(doc, path, value))
    assert err.value.details["field"] == field
    assert field in err.value.message
    assert (count(ProgramRules), count(EarningRule), count(Level), count(Gift)) == (0, 0, 0, 0)


def test_a_document_that_is_not_an_object_is_refused(app: Any) -> None:
    with pytest.raises(InvalidRequest, match="document must be an object"):
        import_rules([1, 2])


def test_a_level_rank_held_by_a_level_not_in_the_document(
    doc: dict[str, Any], make_level: Any
) -> None:
    make_level("钻石卡", rank=3)
    with pytest.raises(InvalidRequest) as err:
        import_rules(doc)
    assert err.value.details["field"] == "levels[2].rank"
    assert count(ProgramRules) == 0


def test_cli_import_and_export(doc: dict[str, Any], runner: Any, tmp_path: Path) -> None:
    result = runner.invoke(args=["rules", "import", str(EXAMPLE)])
    assert result.exit_code == 0, result.output
    assert "Rules imported: 4 earning rules" in result.output
    exported = runner.invoke(args=["rules", "export"])
    assert exported.exit_code == 0
    assert json.loads(exported.output)["recharge_plans"][0]["name"] == "充500送50"


def test_cli_refuses_a_bad_document_and_keeps_the_old_rules(
    doc: dict[str, Any], runner: Any, tmp_path: Path
) -> None:
    assert runner.invoke(args=["rules", "import", str(EXAMPLE)]).exit_code == 0
    doc["earning"]["stores"][0]["multiplier_bp"] = "lots"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc), encoding="utf-8")
    result = runner.invoke(args=["rules", "import", str(bad)])
    assert result.exit_code == 1
    assert "earning.stores[0].multiplier_bp must be a whole number" in result.output
    assert current_rules().store_multipliers == {"BJ01": ("北京新店开业", 12000)}
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    result = runner.invoke(args=["rules", "import", str(broken)])
    assert result.exit_code == 1
    assert "is not JSON" in result.output


def test_a_list_of_categories_is_what_the_rules_may_name(doc: dict[str, Any]) -> None:
    doc["categories"] = [
        {"code": "seasonal", "kind": "product", "names": {"zh-Hans": "时令菜", "en": "Seasonal"}},
        {"code": "gift_card", "kind": "product"},
        {"code": "tobacco"},
        {"code": "美容类", "kind": "service", "names": {"zh-Hant": "美容類"}},
    ]
    assert import_rules(copy.deepcopy(doc))["categories"] == 4
    exported = export_rules()["categories"]
    assert exported[0] == {"code": "gift_card", "kind": "product", "names": {}}
    assert {c["code"]: c for c in exported}["美容类"] == {
        "code": "美容类",
        "kind": "service",
        "names": {"zh-Hant": "美容類"},
    }
    assert {c["code"]: c["kind"] for c in exported}["tobacco"] == "product"

    doc["earning"]["categories"][0]["category"] = "seasonel"
    with pytest.raises(InvalidRequest, match="names no category") as err:
        import_rules(copy.deepcopy(doc))
    assert err.value.details["field"] == "earning.categories[0].category"
    doc["earning"]["categories"][0]["category"] = "seasonal"
    doc["discounts"]["excluded_categories"].append("酒水")
    with pytest.raises(InvalidRequest) as err:
        import_rules(copy.deepcopy(doc))
    assert err.value.details["field"] == "discounts.excluded_categories"
    doc["categories"][1]["kind"] = "gadget"
    with pytest.raises(InvalidRequest, match=r"categories\[1\]\.kind must be one of"):
        import_rules(doc)
    assert len(export_rules()["categories"]) == 4
