"""Real commits from threads: one ballot per member, and a draw closing while members enter.

On PostgreSQL the vote's UNIQUE (vote, member) refuses the second ballot, and closing a
draw takes its row FOR UPDATE while entries hold it FOR SHARE: an entry lands before the
winners are drawn (and is in the entry list they are drawn from) or is refused after.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import func, select

from app.campaigns import services
from app.campaigns.draws import verify
from app.campaigns.errors import AlreadyVoted, NoOpenDraw
from app.campaigns.models import DrawEntry, VoteBallot
from app.cards.services import enroll
from app.db import db, unit_of_work
from app.members.models import Member
from app.stores.services import create_store

pytestmark = pytest.mark.concurrent
THREADS = 6


def _in_threads(app: Any, work: Callable[[int], str]) -> list[str]:
    barrier = threading.Barrier(THREADS)

    def run(n: int) -> str:
        with app.app_context():
            barrier.wait()
            try:
                with unit_of_work():
                    return work(n)
            finally:
                db.session.remove()

    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(run, range(THREADS)))


def test_one_ballot_per_member_at_the_same_moment(live_app: Any) -> None:
    with unit_of_work():
        create_store("SH01", "南京路店", "华东")
        member_id = enroll({"phone": "+8613800138000", "home_store": "SH01"}).id
        services.open_vote("新品投票", [("A", "红豆"), ("B", "抹茶")])

    def vote(n: int) -> str:
        member = db.session.get(Member, member_id)
        assert member is not None
        try:
            services.cast_ballot(member, "AB"[n % 2], channel="sms")
        except AlreadyVoted:
            return "refused"
        return "counted"

    outcomes = _in_threads(live_app, vote)
    assert sorted(outcomes) == ["counted"] + ["refused"] * (THREADS - 1)
    assert db.session.scalar(select(func.count()).select_from(VoteBallot)) == 1


def test_a_draw_closing_while_members_enter_stays_verifiable(live_app: Any) -> None:
    with unit_of_work():
        create_store("SH01", "南京路店", "华东")
        members = [
            enroll({"phone": f"+86138001380{n:02d}", "home_store": "SH01"}).id
            for n in range(THREADS)
        ]
        draw_id = services.open_draw("周年抽奖", prizes=[("杯子", 2)]).id

    def act(n: int) -> str:
        if n == 0:
            services.close_draw(draw_id)
            return "closed"
        member = db.session.get(Member, members[n])
        assert member is not None
        try:
            services.enter_draw(member, channel="sms")
        except NoOpenDraw:
            return "too late"
        return "entered"

    outcomes = _in_threads(live_app, act)
    entered = outcomes.count("entered")
    with unit_of_work():
        draw = services.get_draw(draw_id)
        assert draw.status == "closed"
        count = db.session.scalar(select(func.count()).select_from(DrawEntry))
        assert count == entered
        report = verify(draw)
        assert report.ok, report.problems
        assert report.entries == entered
