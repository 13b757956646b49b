"""Eight messages of one member entering a paid draw at the same moment: one entry, one debit."""

from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

import pytest
from sqlalchemy import func, select

from app.bot.engine import handle_message
from app.bot.message import Message
from app.campaigns.models import DrawEntry, VoteBallot
from app.campaigns.services import open_draw, open_vote
from app.cards.services import enroll, member_cards
from app.db import db, unit_of_work
from app.ledger.balances import member_balances
from app.ledger.journal import credit_points
from app.ledger.models import Transaction
from app.stores.services import create_store

pytestmark = pytest.mark.concurrent
PHONE = "+8613800138000"
SENDERS = 8


def _send(app: Any, barrier: threading.Barrier, text: str, n: int) -> str:
    with app.app_context():
        barrier.wait()
        with unit_of_work():
            reply = handle_message(
                Message("sms", PHONE, text, f"SM{text}{n}", dt.datetime.now(dt.UTC))
            )
        db.session.remove()
        return reply.text


def test_simultaneous_draw_and_vote_messages(live_app: Any) -> None:
    with unit_of_work():
        create_store("SH01", "南京路店", "华东")
        member = enroll({"phone": PHONE, "home_store": "SH01"})
        credit_points(member_cards(member)[0], 300, kind="gift", key="seed", expires_on=None)
        open_draw("积分抽奖", points_cost=100)
        open_vote("新品投票", [("A", "红豆"), ("B", "抹茶")])
        member_id = member.id

    for text, table in (("CJ", DrawEntry), ("TP A", VoteBallot)):
        barrier = threading.Barrier(SENDERS)
        with ThreadPoolExecutor(SENDERS) as pool:
            replies = list(pool.map(partial(_send, live_app, barrier, text), range(SENDERS)))
        winners = [r for r in replies if r.startswith(("您已成功参加", "感谢参与"))]
        assert len(winners) == 1, replies
        assert db.session.scalar(select(func.count()).select_from(table)) == 1
        # On SQLite even a read holds the write lock (BEGIN IMMEDIATE) until it ends.
        db.session.rollback()
    assert member_balances(member_id).points == 200
    assert (
        db.session.scalar(
            select(func.count()).select_from(Transaction).where(Transaction.reason == "draw_entry")
        )
        == 1
    )
