"""Eight purchases of one member at once: growth adds up exactly and the upgrade happens once."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from app.cards.services import enroll
from app.db import db, unit_of_work
from app.ledger.rules.io import import_rules
from app.ledger.rules.levels import apply_growth, growth_mismatches, growth_of, level_history
from app.members.models import Member
from app.stores.services import create_store

pytestmark = pytest.mark.concurrent
EXAMPLE = Path(__file__).parents[3] / "docs" / "rules.example.json"
THREADS = 8


def test_concurrent_growth_upgrades_once(live_app: Any) -> None:
    with unit_of_work():
        for code in ("SH01", "SH02", "BJ01"):
            create_store(code, code, "East")
        import_rules(json.loads(EXAMPLE.read_text(encoding="utf-8")))
        member_id = enroll({"phone": "+8613900002222", "home_store": "SH01"}).id

    barrier = threading.Barrier(THREADS)

    def purchase(n: int) -> bool:
        with live_app.app_context():
            barrier.wait()
            with unit_of_work():
                member = db.session.get_one(Member, member_id)
                return apply_growth(member, 200, transaction_id=n) is not None

    with ThreadPoolExecutor(THREADS) as pool:
        upgraded = list(pool.map(purchase, range(THREADS)))

    db.session.remove()
    member = db.session.get_one(Member, member_id)
    assert growth_of(member) == 1600
    assert member.level is not None and member.level.name == "银卡"
    assert upgraded.count(True) == 1
    assert [(r.reason, r.growth) for r in level_history(member)] == [("upgrade", 1000)]
    assert growth_mismatches() == []
    assert db.session.scalar(select(Member.level_id).where(Member.id == member_id)) == (
        member.level_id
    )
