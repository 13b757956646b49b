"""``laoyou rules example``: the demo's rules, shipped with the package, to edit and import."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import func, select

from app.db import db
from app.ledger.redemption.models import Gift
from app.ledger.rules.models import ProgramRules

EXAMPLE = Path(__file__).parents[2] / "docs" / "rules.example.json"


def test_rules_example_prints_the_demo_rules(runner):
    result = runner.invoke(args=["rules", "example"])

    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == json.loads(EXAMPLE.read_text(encoding="utf-8"))


def test_the_example_on_a_chain_without_its_store_says_what_is_missing(
    runner, make_store, tmp_path
):
    rules = tmp_path / "rules.json"
    rules.write_text(runner.invoke(args=["rules", "example"]).output, encoding="utf-8")

    refused = runner.invoke(args=["rules", "import", str(rules)])

    assert refused.exit_code == 1
    assert refused.output == (
        "Error: rules not imported: earning.stores[0].store names no store ('BJ01'): "
        "create the store first (laoyou store create) or leave this rule out\n"
    )
    assert db.session.get(ProgramRules, 1) is None
    assert db.session.scalar(select(func.count()).select_from(Gift)) == 0

    make_store("BJ01")
    imported = runner.invoke(args=["rules", "import", str(rules)])

    assert imported.exit_code == 0, imported.output
    assert "2 gifts" in imported.output
    assert db.session.scalar(select(Gift.name).where(Gift.code == "MUG")) == "保温杯"
