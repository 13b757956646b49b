"""``laoyou store create`` / ``store list``."""

from __future__ import annotations

from sqlalchemy import func, select

from app.db import db
from app.stores.models import Store


def store_count() -> int:
    return db.session.scalar(select(func.count(Store.id)))


def test_store_create_writes_the_store(runner):
    result = runner.invoke(
        args=["store", "create", "hz01", "--name", "杭州西湖店", "--region", "华东"]
    )

    assert result.exit_code == 0, result.output
    assert "store HZ01 created: 杭州西湖店 (华东)" in result.output
    store = db.session.scalar(select(Store).where(Store.code == "HZ01"))
    assert (store.name, store.region) == ("杭州西湖店", "华东")


def test_duplicate_code_is_refused_and_changes_nothing(runner):
    runner.invoke(args=["store", "create", "SH01", "--name", "上海南京路店", "--region", "华东"])

    result = runner.invoke(args=["store", "create", "sh01", "--name", "另一家", "--region", "华北"])

    assert result.exit_code == 1
    assert "Error: store SH01 already exists" in result.output
    assert store_count() == 1
    assert db.session.scalar(select(Store.name)) == "上海南京路店"


def test_invalid_code_or_missing_name_is_refused(runner):
    bad_code = runner.invoke(args=["store", "create", "SH 01!", "--name", "x", "--region", "华东"])
    no_name = runner.invoke(args=["store", "create", "SH02", "--region", "华东"])
    blank_region = runner.invoke(args=["store", "create", "SH03", "--name", "x", "--region", " "])

    assert bad_code.exit_code == 1 and "letters, digits" in bad_code.output
    assert no_name.exit_code == 2 and "--name" in no_name.output
    assert blank_region.exit_code == 1 and "region is required" in blank_region.output
    assert store_count() == 0


def test_store_list_shows_codes_regions_and_member_counts(runner, make_member):
    runner.invoke(args=["store", "create", "BJ01", "--name", "北京三里屯店", "--region", "华北"])
    make_member("13800138000", home_store="BJ01")

    result = runner.invoke(args=["store", "list"])

    assert result.exit_code == 0, result.output
    header, row = result.output.splitlines()
    assert header.split() == ["code", "name", "region", "members"]
    assert row.split() == ["BJ01", "北京三里屯店", "华北", "1"]


def test_store_list_when_empty_says_how_to_add_one(runner):
    result = runner.invoke(args=["store", "list"])

    assert result.exit_code == 0
    assert "laoyou store create" in result.output


def test_a_store_made_on_the_command_line_is_audited_as_the_cli(runner):
    from app.audit.models import AuditEntry

    runner.invoke(args=["store", "create", "hz01", "--name", "杭州西湖店", "--region", "华东"])

    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "store.create")).one()
    assert (entry.actor_kind, entry.object_id) == ("cli", "HZ01")
    assert entry.after == {"name": "杭州西湖店", "region": "华东"}
