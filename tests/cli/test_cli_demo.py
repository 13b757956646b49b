"""``laoyou demo``: the chain ``make run`` serves, loaded idempotently, with its key.

These run with LAOYOU_ENV=testing, where every run makes a new demo key; development
keeps one across runs (tests/cli/test_cli_console_script.py).
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditEntry
from app.auth.models import ApiKey
from app.auth.services import authenticate
from app.cards.models import Card, CardEvent, CardMedium
from app.cards.services import resolve_member
from app.db import db
from app.errors import Unauthorized
from app.members.models import Level, Member, Question
from app.stores.models import Store


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def run_demo(runner) -> str:
    result = runner.invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    return result.output


def test_demo_loads_a_believable_chain_with_every_kind_of_card(runner):
    output = run_demo(runner)

    assert "demo data loaded: 3 stores, 3 levels, 3 questions, 30 members" in output
    stores = {s.code: s.region for s in db.session.scalars(select(Store))}
    assert stores == {"SH01": "华东", "SH02": "华东", "BJ01": "华北"}
    levels = db.session.scalars(select(Level).order_by(Level.rank)).all()
    assert [
        (lv.name, lv.discount_bp, lv.points_multiplier_bp, lv.upgrade_threshold) for lv in levels
    ] == [
        ("普通会员", 10000, 10000, 0),
        ("银卡", 9500, 12000, 1000),
        ("金卡", 9000, 15000, 5000),
    ]
    members = db.session.scalars(select(Member)).all()
    assert len(members) == 30
    assert all(m.phone.startswith("+8613") and len(m.phone) == 14 for m in members)
    languages = [m.language for m in members]
    assert languages.count("zh-Hans") > 20 and "zh-Hant" in languages and "en" in languages
    assert any(m.birthday_calendar == "lunar" and m.lunar_leap_month for m in members)
    assert sum(m.referrer_id is not None for m in members) >= 3
    assert sum(bool(m.answers) for m in members) >= 20 and count(Question) == 3
    assert {m.level.name for m in members} == {"普通会员", "银卡", "金卡"}
    wang = resolve_member("13800138000")
    assert wang.name == "王小明" and wang.level.name == "金卡"

    cards = db.session.scalars(select(Card)).all()
    assert {c.type for c in cards} == {"points", "stored_value", "count", "period", "gift"}
    states = [c.state for c in cards]
    assert states.count("lost") == 1 and states.count("frozen") == 1
    assert "cancelled" in states  # the replaced card
    assert sum(c.pin_hash is not None for c in cards) >= 3
    gifts = [c for c in cards if c.type == "gift"]
    assert len(gifts) == 5 and all(c.member_id is None for c in gifts)
    kinds = set(db.session.scalars(select(CardMedium.kind)))
    assert {"barcode", "ic_uid", "magstripe", "qr_token"} <= kinds

    # Followers of the official account, in each language, answered as their members.
    from app.members.wechat import member_for_openid

    assert "3 WeChat followers" in output
    followers = {
        openid: member_for_openid(openid)
        for openid in ("oDEMO-wang-xiaoming", "oDEMO-chen-meiling", "oDEMO-david-miller")
    }
    assert [(m.name, m.language) for m in followers.values() if m is not None] == [
        ("王小明", "zh-Hans"),
        ("陳美玲", "zh-Hant"),
        ("David Miller", "en"),
    ]


def test_the_demo_rules_are_in_the_audit_log_once(runner):
    """Loaded as ``laoyou rules import`` loads rules: one audited change, not a second."""
    run_demo(runner)
    run_demo(runner)
    entries = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "rules.import"))
    [entry] = entries.all()
    assert (entry.object_type, entry.object_id, entry.actor_kind) == ("rules", "demo", "cli")
    assert entry.after["levels"][0]["name"] == "普通会员"


def test_demo_again_adds_nothing_and_rotates_only_the_demo_key(runner):
    first_key = run_demo(runner).splitlines()[-1]
    pos_key = runner.invoke(args=["apikey", "create", "--store", "SH01"]).output.splitlines()[-1]
    before = (count(Store), count(Member), count(Card), count(CardMedium), count(CardEvent))

    output = run_demo(runner)
    second_key = output.splitlines()[-1]

    assert "demo data already loaded: nothing added" in output
    assert (count(Store), count(Member), count(Card), count(CardMedium), count(CardEvent)) == before
    assert second_key != first_key
    with pytest.raises(Unauthorized, match="revoked"):
        authenticate(first_key)
    assert authenticate(second_key).store.code == "SH01"
    assert authenticate(pos_key).revoked_at is None  # only demo keys are rotated
    live = db.session.scalars(
        select(ApiKey).where(ApiKey.label == "demo", ApiKey.revoked_at.is_(None))
    ).all()
    assert [k.prefix for k in live] == [second_key[:12]]


def test_demo_keeps_a_store_the_user_made_first(runner):
    runner.invoke(args=["store", "create", "SH01", "--name", "我的店", "--region", "华南"])

    run_demo(runner)

    assert db.session.scalar(select(Store.name).where(Store.code == "SH01")) == "我的店"
    assert count(Store) == 3 and count(Member) == 30
