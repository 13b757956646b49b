"""Growth and levels: upgrade by growth earned, reversal on refund, the yearly review.

Levels of docs/rules.example.json: 普通会员 (0), 银卡 (1000, keep 500),
金卡 (5000, keep 2000); review over 12 months.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from app import clock
from app.db import db
from app.ledger.rules.io import import_rules
from app.ledger.rules.levels import (
    apply_growth,
    growth_mismatches,
    growth_of,
    level_history,
    reverse_growth,
    review_levels,
    set_level,
)
from app.ledger.rules.models import GrowthEntry
from app.members.models import Level
from app.signals import level_changed

EXAMPLE = Path(__file__).parents[3] / "docs" / "rules.example.json"
JOINED = dt.datetime(2025, 1, 10, 10, tzinfo=dt.UTC)


@pytest.fixture
def rules(app: Any, make_store: Any) -> Any:
    for code in ("SH01", "SH02", "BJ01"):
        make_store(code)

    def load(**sections: Any) -> None:
        doc = json.loads(EXAMPLE.read_text(encoding="utf-8"))
        for name, value in sections.items():
            doc[name] = {**doc[name], **value} if isinstance(value, dict) else value
        import_rules(doc)

    load()
    return load


def level(name: str) -> Level:
    return db.session.scalar(select(Level).where(Level.name == name))


@pytest.fixture
def member(rules: Any, make_member: Any) -> Any:
    with clock.frozen(JOINED):
        return make_member(card_type="points")


@pytest.fixture
def changes() -> Any:
    seen: list[dict[str, Any]] = []

    def receiver(sender: Any, **kw: Any) -> None:
        seen.append({"member": sender, **kw})

    level_changed.connect(receiver)
    yield seen
    level_changed.disconnect(receiver)


def test_growth_below_the_threshold_changes_no_level(member: Any, changes: list) -> None:
    assert member.level.name == "普通会员"
    assert apply_growth(member, 999, transaction_id=1) is None
    assert growth_of(member) == 999
    assert member.level.name == "普通会员"
    assert changes == []


def test_crossing_the_threshold_upgrades_and_records_it(member: Any, changes: list) -> None:
    apply_growth(member, 600, transaction_id=1)
    change = apply_growth(member, 400, transaction_id=2)
    assert change is not None
    assert (change.old_level.name, change.new_level.name, change.reason) == (
        "普通会员",
        "银卡",
        "upgrade",
    )
    assert member.level.name == "银卡"
    [row] = level_history(member)
    assert (row.reason, row.transaction_id, row.growth) == ("upgrade", 2, 1000)
    assert [(c["old_level"].name, c["new_level"].name, c["reason"]) for c in changes] == [
        ("普通会员", "银卡", "upgrade")
    ]
    assert changes[0]["transaction_id"] == 2


def test_a_big_purchase_skips_a_level(member: Any) -> None:
    change = apply_growth(member, 6000, transaction_id=7)
    assert change is not None
    assert (change.old_level.name, change.new_level.name) == ("普通会员", "金卡")
    assert len(level_history(member)) == 1


def test_a_points_balance_never_upgrades(member: Any) -> None:
    """open-loyalty#131: levels follow growth earned, not the points a member holds."""
    from app.cards.services import member_cards
    from app.ledger.journal import credit_points

    credit_points(member_cards(member)[0], 100000, kind="adjustment", key="t-131", expires_on=None)
    assert apply_growth(member, 10, transaction_id=None) is None
    assert member.level.name == "普通会员"


def test_refund_takes_growth_back_and_undoes_the_upgrade(member: Any, changes: list) -> None:
    apply_growth(member, 800, transaction_id=1)
    apply_growth(member, 500, transaction_id=2)  # 1300: 银卡
    change = reverse_growth(member, 500, transaction_id=3)
    assert change is not None
    assert (change.old_level.name, change.new_level.name, change.reason) == (
        "银卡",
        "普通会员",
        "refund",
    )
    assert growth_of(member) == 800
    assert member.level.name == "普通会员"
    assert [c["reason"] for c in changes] == ["upgrade", "refund"]
    deltas = db.session.scalars(
        select(GrowthEntry.delta).where(GrowthEntry.member_id == member.id).order_by(GrowthEntry.id)
    ).all()
    assert deltas == [800, 500, -500]
    assert growth_mismatches() == []


def test_partial_refund_keeps_a_level_still_earned(member: Any) -> None:
    apply_growth(member, 1300, transaction_id=1)
    assert reverse_growth(member, 300, transaction_id=2) is None
    assert member.level.name == "银卡"
    assert reverse_growth(member, 1, transaction_id=3) is not None
    assert member.level.name == "普通会员"


def test_refund_after_two_upgrades_returns_to_the_level_growth_supports(member: Any) -> None:
    apply_growth(member, 1000, transaction_id=1)  # 银卡
    apply_growth(member, 4500, transaction_id=2)  # 5500: 金卡
    change = reverse_growth(member, 5000, transaction_id=3)  # 500
    assert change is not None
    assert (change.old_level.name, change.new_level.name) == ("金卡", "普通会员")


def test_a_level_set_by_hand_survives_a_refund(member: Any) -> None:
    set_level(member, level("金卡"))
    apply_growth(member, 200, transaction_id=1)
    assert reverse_growth(member, 200, transaction_id=2) is None
    assert member.level.name == "金卡"
    assert [r.reason for r in level_history(member)] == ["manual"]


def test_growth_never_goes_below_zero(member: Any) -> None:
    apply_growth(member, 100, transaction_id=1)
    reverse_growth(member, 300, transaction_id=2)
    assert growth_of(member) == 0
    assert growth_mismatches() == []


def test_negative_growth_is_refused(member: Any) -> None:
    with pytest.raises(ValueError):
        apply_growth(member, -1, transaction_id=None)


# --- the yearly review ---------------------------------------------------------------


def _earn(member: Any, growth: int, when: dt.datetime, txn: int) -> None:
    with clock.frozen(when):
        apply_growth(member, growth, transaction_id=txn)


def test_review_moves_a_member_below_the_keep_threshold_down_one_level(
    member: Any, changes: list
) -> None:
    _earn(member, 6000, dt.datetime(2025, 2, 1, tzinfo=dt.UTC), 1)  # 金卡
    _earn(member, 1999, dt.datetime(2026, 2, 1, tzinfo=dt.UTC), 2)  # within the window
    with clock.frozen(dt.datetime(2026, 12, 1, 2, tzinfo=dt.UTC)):
        moved = review_levels(dt.date(2026, 12, 1))
    assert [(m.id, c.old_level.name, c.new_level.name) for m, c in moved] == [
        (member.id, "金卡", "银卡")
    ]
    assert member.level.name == "银卡"
    assert growth_of(member) == 1000  # cut to 银卡's threshold: no instant re-upgrade
    assert changes[-1]["reason"] == "downgrade"
    assert growth_mismatches() == []
    # The same review again changes nothing.
    with clock.frozen(dt.datetime(2026, 12, 1, 3, tzinfo=dt.UTC)):
        assert review_levels(dt.date(2026, 12, 1)) == []
    assert member.level.name == "银卡"


def test_review_keeps_members_who_earned_enough(member: Any) -> None:
    _earn(member, 6000, dt.datetime(2025, 2, 1, tzinfo=dt.UTC), 1)
    _earn(member, 2000, dt.datetime(2026, 2, 1, tzinfo=dt.UTC), 2)
    with clock.frozen(dt.datetime(2026, 12, 1, 2, tzinfo=dt.UTC)):
        assert review_levels(dt.date(2026, 12, 1)) == []
    assert member.level.name == "金卡"


def test_review_spares_a_member_promoted_within_the_window(member: Any) -> None:
    _earn(member, 6000, dt.datetime(2026, 6, 1, tzinfo=dt.UTC), 1)
    with clock.frozen(dt.datetime(2026, 12, 1, 2, tzinfo=dt.UTC)):
        assert review_levels(dt.date(2026, 12, 1)) == []
    assert member.level.name == "金卡"


def test_review_does_nothing_when_disabled(rules: Any, member: Any) -> None:
    rules(growth={"downgrade_enabled": False})
    _earn(member, 6000, dt.datetime(2025, 2, 1, tzinfo=dt.UTC), 1)
    with clock.frozen(dt.datetime(2026, 12, 1, 2, tzinfo=dt.UTC)):
        assert review_levels(dt.date(2026, 12, 1)) == []


def test_levels_review_command(member: Any, runner: Any) -> None:
    _earn(member, 1200, dt.datetime(2025, 2, 1, tzinfo=dt.UTC), 1)  # 银卡, keep 500
    with clock.frozen(dt.datetime(2026, 12, 1, 2, tzinfo=dt.UTC)):
        result = runner.invoke(args=["levels", "review", "--as-of", "2026-12-01"])
        assert result.exit_code == 0, result.output
        assert f"{member.phone}  银卡 -> 普通会员" in result.output
        assert "1 member(s) moved down" in result.output
        again = runner.invoke(args=["levels", "review", "--as-of", "2026-12-01"])
    assert "0 member(s) moved down" in again.output
    assert db.session.scalar(select(func.count()).select_from(GrowthEntry)) == 2
    bad = runner.invoke(args=["levels", "review", "--as-of", "1st of May"])
    assert bad.exit_code != 0


def test_levels_review_dry_run_prints_the_moves_and_writes_nothing(
    member: Any, runner: Any
) -> None:
    from app.messaging.models import OutboxMessage

    _earn(member, 1200, dt.datetime(2025, 2, 1, tzinfo=dt.UTC), 1)  # 银卡, keep 500
    outbox = db.session.scalar(select(func.count()).select_from(OutboxMessage))
    with clock.frozen(dt.datetime(2026, 12, 1, 2, tzinfo=dt.UTC)):
        dry = runner.invoke(args=["levels", "review", "--as-of", "2026-12-01", "--dry-run"])
        assert dry.exit_code == 0, dry.output
        assert f"{member.phone}  银卡 -> 普通会员" in dry.output
        assert "(dry run, nothing written): 1 member(s) would move down" in dry.output
        db.session.expire_all()
        assert member.level.name == "银卡"
        assert db.session.scalar(select(func.count()).select_from(GrowthEntry)) == 1
        assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == outbox

        real = runner.invoke(args=["levels", "review", "--as-of", "2026-12-01"])
    assert "1 member(s) moved down" in real.output  # the dry run did not use up the review
    db.session.expire_all()
    assert member.level.name == "普通会员"
