"""The panel's votes and draws: a marketer creates, watches the live figures, closes, cancels."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from app.audit.models import AuditEntry
from app.campaigns import services
from app.campaigns.models import Draw, DrawWinner, Vote
from app.cards.services import member_cards
from app.db import db
from app.ledger.balances import member_balances
from tests.bot.support import give_points


def _count(model: Any) -> int:
    return db.session.scalar(select(func.count()).select_from(model)) or 0


def _fresh(row: Any) -> Any:
    """The row as the requests left it (they ran in sessions of their own)."""
    db.session.refresh(row)
    return row


def _rows(page: str, table: str) -> str:
    return page.split(f'<table id="{table}"')[1].split("</table>")[0]


def test_a_vote_from_the_form_to_its_live_results(
    app: Flask, signed_in: Any, make_member: Any
) -> None:
    marketer = signed_in("marketer", language="en")
    assert "/admin/votes" in marketer.get("/admin/").text  # the room is in the navigation
    created = marketer.post(
        "/admin/votes/new",
        {"title": "New tea", "options": "A=Red bean\r\nB=Matcha\r\n", "closes_at": ""},
    )
    assert created.status_code == 302
    vote = db.session.scalar(select(Vote))
    assert created.location.endswith(f"/admin/votes/{vote.id}")
    for option in ("A", "B", "B"):
        services.cast_ballot(make_member(), option, channel="sms")

    page = marketer.get(f"/admin/votes/{vote.id}").text
    assert "Live results" in page and 'data-status="open"' in page
    results = _rows(page, "results")
    assert '<td class="votes">1</td>' in results.split('data-option="B"')[0]
    assert '<td class="votes">2</td>' in results.split('data-option="B"')[1]
    assert '<th id="total">3</th>' in page
    listing = marketer.get("/admin/votes").text
    assert "New tea" in _rows(listing, "votes") and "<td>3</td>" in _rows(listing, "votes")

    closed = marketer.post(f"/admin/votes/{vote.id}/close")
    assert closed.status_code == 302 and _fresh(vote).status == "closed"
    assert "the results are on their way" in marketer.get(closed.location).text
    again = marketer.post(f"/admin/votes/{vote.id}/cancel")
    assert again.status_code == 409 and "Not possible now: it is Closed." in again.text
    actions = set(db.session.scalars(select(AuditEntry.action)))
    assert {"vote.create", "vote.close"} <= actions and "vote.cancel" not in actions


@pytest.mark.parametrize(
    ("form", "says"),
    [
        ({"title": "", "options": "A=x\nB=y"}, "Give a title"),
        ({"title": "t", "options": "A=x"}, "Give two or more options"),
        ({"title": "t", "options": "A x\nB y"}, "Give two or more options"),
        ({"title": "t", "options": "A=x\nB=y", "opens_at": "2026-02-30T10:00"}, "open time"),
        ({"title": "t", "options": "A=x\nB=y", "closes_at": "yesterday"}, "close time"),
        ({"title": "t", "options": "A=x\nB=y", "closes_at": "2001-01-01T10:00"}, "close time"),
        ({"title": "t", "options": "A=x\nB=y", "min_level_rank": "1.5"}, "lowest level"),
        ({"title": "t", "options": "A=x\nB=y", "min_level_rank": "99999999999"}, "lowest level"),
        ({"title": "t", "options": "A=x\nB=y", "segment": "vip"}, "No saved segment has that name"),
    ],
)
def test_a_bad_vote_form_is_refused_and_changes_nothing(
    app: Flask, signed_in: Any, form: dict[str, str], says: str
) -> None:
    marketer = signed_in("marketer", language="en")
    answer = marketer.post("/admin/votes/new", form)
    assert answer.status_code == 400 and says in answer.text
    assert _count(Vote) == 0


def test_a_nul_byte_is_refused(app: Flask, signed_in: Any) -> None:
    marketer = signed_in("marketer", language="en")
    answer = marketer.post("/admin/draws/new", {"title": "t\x00", "prizes": "cup=1"})
    assert answer.status_code == 400 and _count(Draw) == 0


@pytest.mark.parametrize(
    ("form", "says"),
    [
        ({"title": "t", "prizes": ""}, "Give prizes"),
        ({"title": "t", "prizes": "cup=0"}, "Give prizes"),
        ({"title": "t", "prizes": "cup=1.5"}, "Give prizes"),
        ({"title": "t", "prizes": "cup=20000"}, "Give prizes"),
        ({"title": "t", "prizes": "cup=1", "points_cost": "-5"}, "points cost"),
        ({"title": "t", "prizes": "cup=1", "points_cost": "1e9"}, "points cost"),
        ({"title": "t", "prizes": "cup=1", "points_cost": "99999999"}, "points cost"),
    ],
)
def test_a_bad_draw_form_is_refused(
    app: Flask, signed_in: Any, form: dict[str, str], says: str
) -> None:
    marketer = signed_in("marketer", language="en")
    answer = marketer.post("/admin/draws/new", form)
    assert answer.status_code == 400 and says in answer.text
    assert _count(Draw) == 0


def test_a_draw_shows_its_seed_hash_then_its_winners(
    app: Flask, signed_in: Any, make_member: Any
) -> None:
    marketer = signed_in("marketer", language="zh-Hans")
    created = marketer.post(
        "/admin/draws/new",
        {"title": "周年抽奖", "prizes": "保温杯=1\n代金券=2", "points_cost": "0"},
    )
    assert created.status_code == 302
    draw = db.session.scalar(select(Draw))
    page = marketer.get(f"/admin/draws/{draw.id}").text
    assert f'<code class="hash" id="seed-hash">{draw.seed_sha256}</code>' in page
    assert draw.seed is not None and draw.seed.hex() not in page  # secret until drawn
    assert "进行中" in page
    for _ in range(5):
        services.enter_draw(make_member(), channel="sms")
    assert '<dd id="entries">5</dd>' in marketer.get(f"/admin/draws/{draw.id}").text

    assert marketer.post(f"/admin/draws/{draw.id}/close").status_code == 302
    page = marketer.get(f"/admin/draws/{draw.id}").text
    assert f'<code class="hash" id="seed">{draw.seed.hex()}</code>' in page
    assert 'id="verify" data-ok="yes"' in page and "一致" in page
    winners = _rows(page, "winners")
    assert winners.count("<tr data-member=") == 3 == _count(DrawWinner)
    assert winners.count("保温杯") == 1 and winners.count("代金券") == 2
    refused = marketer.post(f"/admin/draws/{draw.id}/cancel")
    assert refused.status_code == 409 and _fresh(draw).status == "closed"


def test_cancelling_a_paid_draw_gives_the_points_back(
    app: Flask, signed_in: Any, make_member: Any
) -> None:
    admin = signed_in("admin", language="en")
    member = make_member()
    give_points(member_cards(member)[0], 150)
    draw = services.open_draw("Paid", points_cost=100, prizes=[("cup", 1)])
    services.enter_draw(member, channel="sms")
    assert member_balances(member.id).points == 50
    answer = admin.post(f"/admin/draws/{draw.id}/cancel")
    assert answer.status_code == 302 and _fresh(draw).status == "cancelled"
    assert member_balances(member.id).points == 150
    assert "Cancelled." in admin.get(answer.location).text


def test_store_staff_are_refused(app: Flask, signed_in: Any) -> None:
    draw = services.open_draw("x", prizes=[("cup", 1)])
    manager = signed_in("store_manager")
    assert manager.get(f"/admin/draws/{draw.id}").status_code == 403
    assert manager.post(f"/admin/draws/{draw.id}/close").status_code == 403
    assert _fresh(draw).status == "open"
    assert "/admin/draws" not in manager.get("/admin/").text


def test_the_lists_of_votes_and_of_draws_link_each_and_say_when_there_is_none(
    signed_in: Any,
) -> None:
    marketer = signed_in("marketer", language="en")
    for path, table, empty in (
        ("/admin/votes", "votes", "No votes yet."),
        ("/admin/draws", "draws", "No draws yet."),
    ):
        assert empty in _rows(marketer.get(path).text, table)
    marketer.post("/admin/votes/new", {"title": "New tea", "options": "A=Red\r\nB=Green\r\n"})
    vote = db.session.scalar(select(Vote))
    votes = _rows(marketer.get("/admin/votes").text, "votes")
    assert f'href="/admin/votes/{vote.id}">New tea</a>' in votes
    assert "<th>Votes cast</th>" in votes and "No votes yet." not in votes
    draws = _rows(marketer.get("/admin/draws").text, "draws")
    assert "<th>Entries</th>" in draws and "No draws yet." in draws
