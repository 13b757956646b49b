"""VOTE, DRAW and MSG by text, and the ``laoyou vote|draw|messages`` commands."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.campaigns import services
from app.campaigns.errors import CampaignOpen
from app.campaigns.models import Draw, DrawEntry, StoreMessage, Vote, VoteBallot
from app.cards.services import member_cards
from app.db import db
from app.errors import InvalidRequest, NotFound
from app.ledger.balances import member_balances
from app.ledger.models import Transaction
from tests.bot.support import give_points

PHONE = "+8613800138000"
OTHER = "+8613900139000"


def count(model: Any) -> int:
    return db.session.scalar(select(func.count()).select_from(model)) or 0


# --- votes -----------------------------------------------------------------------------


@pytest.fixture
def tea_vote(app: Any) -> Vote:
    return services.open_vote("新品投票", [("A", "红豆奶茶"), ("B", "抹茶拿铁")])


def test_vote_once(bot: Any, make_member: Any, tea_vote: Vote) -> None:
    member = make_member(PHONE, language="zh-Hans")
    phone = bot(PHONE)
    assert phone.text("TP a") == "感谢参与！您在“新品投票”中投给了 A（红豆奶茶）。"
    assert phone.text("投票B") == "您已在“新品投票”中投过票（A），每位会员限投一次。"
    ballot = db.session.scalar(select(VoteBallot))
    assert (ballot.member_id, ballot.option.code, ballot.channel) == (member.id, "A", "sms")
    assert count(VoteBallot) == 1


def test_vote_by_label_in_english(bot: Any, make_member: Any, tea_vote: Vote) -> None:
    make_member(PHONE, language="en")
    assert bot(PHONE).text("VOTE 抹茶拿铁") == (
        "Thank you! Your vote for B (抹茶拿铁) in “新品投票” is counted."
    )


def test_vote_unknown_option_and_no_option(bot: Any, make_member: Any, tea_vote: Vote) -> None:
    make_member(PHONE, language="zh-Hant")
    phone = bot(PHONE)
    assert (
        phone.text("TP Z")
        == "「Z」不是有效選項。請回覆「投票」加選項：A = 红豆奶茶、B = 抹茶拿铁。"
    )
    assert (
        phone.text("投票") == "投票「新品投票」：請回覆「投票」加選項：A = 红豆奶茶、B = 抹茶拿铁。"
    )
    assert count(VoteBallot) == 0


def test_vote_with_no_open_vote(bot: Any, make_member: Any, tea_vote: Vote) -> None:
    make_member(PHONE, language="en")
    services.close_vote(tea_vote.id)
    assert bot(PHONE).text("VOTE A") == "There is no vote open right now."
    assert count(VoteBallot) == 0


def test_one_vote_open_at_a_time(tea_vote: Vote) -> None:
    with pytest.raises(CampaignOpen):
        services.open_vote("另一个", [("A", "x"), ("B", "y")])
    services.close_vote(tea_vote.id)
    with pytest.raises(InvalidRequest, match="given twice"):
        services.open_vote("坏的", [("A", "x"), ("a", "y")])
    with pytest.raises(InvalidRequest, match="at least two"):
        services.open_vote("坏的", [("A", "x")])
    assert count(Vote) == 1


def test_the_database_refuses_a_second_ballot(make_member: Any, tea_vote: Vote) -> None:
    member = make_member(PHONE)
    services.cast_ballot(member, "A", channel="sms")
    option_b = tea_vote.options[1]
    with pytest.raises(IntegrityError), db.session.begin_nested():
        db.session.add(
            VoteBallot(vote_id=tea_vote.id, option=option_b, member_id=member.id, channel="sms")
        )
    assert count(VoteBallot) == 1


# --- draws -----------------------------------------------------------------------------


def test_draw_once(bot: Any, make_member: Any) -> None:
    services.open_draw("周年抽奖")
    member = make_member(PHONE, language="zh-Hans")
    phone = bot(PHONE)
    assert phone.text("CJ") == "您已成功参加“周年抽奖”抽奖，祝您好运！"
    assert phone.text("抽奖") == "您已参加“周年抽奖”抽奖，祝您好运！"
    entry = db.session.scalar(select(DrawEntry))
    assert (entry.member_id, entry.points_paid, entry.ledger_transaction_id) == (member.id, 0, None)
    assert count(DrawEntry) == 1


def test_draw_with_no_open_draw(bot: Any, make_member: Any) -> None:
    make_member(PHONE, language="en")
    assert bot(PHONE).text("DRAW") == "There is no draw open right now."


def test_draw_ineligible_by_level(bot: Any, make_member: Any, make_level: Any) -> None:
    silver, gold = make_level("银卡", 2), make_level("金卡", 3)
    services.open_draw("金卡专享抽奖", min_level_rank=3)
    low = make_member(PHONE, language="zh-Hans")
    low.level = silver
    assert bot(PHONE).text("CJ") == "抱歉，“金卡专享抽奖”抽奖仅限金卡及以上等级的会员参加。"
    gold.name_en = "Gold"
    low.language = "en"
    assert bot(PHONE).text("DRAW") == (
        "Sorry, the draw “金卡专享抽奖” is only for members of level Gold or above."
    )
    assert count(DrawEntry) == 0
    high = make_member(OTHER, language="zh-Hans")
    high.level = gold
    assert bot(OTHER).send("CJ").text.startswith("您已成功参加")
    assert count(DrawEntry) == 1


def test_draw_with_a_points_cost_pays_through_the_ledger_once(bot: Any, make_member: Any) -> None:
    draw = services.open_draw("积分抽奖", points_cost=100)
    member = make_member(PHONE, language="zh-Hans")
    give_points(member_cards(member)[0], 150)
    phone = bot(PHONE)
    assert phone.text("CJ") == "您已成功参加“积分抽奖”抽奖，使用 100 积分，剩余 50 积分。祝您好运！"
    assert phone.text("CJ") == "您已参加“积分抽奖”抽奖，祝您好运！"
    assert member_balances(member.id).points == 50
    entry = db.session.scalar(select(DrawEntry))
    txn = db.session.get(Transaction, entry.ledger_transaction_id)
    assert (txn.kind, txn.reason, txn.idempotency_key) == (
        "redemption",
        "draw_entry",
        f"draw:{draw.id}:member:{member.id}",
    )


def test_draw_with_too_few_points_writes_nothing(bot: Any, make_member: Any) -> None:
    services.open_draw("积分抽奖", points_cost=100)
    member = make_member(PHONE, language="en")
    give_points(member_cards(member)[0], 60)
    transactions = count(Transaction)
    assert bot(PHONE).text("DRAW") == (
        "Entering the draw “积分抽奖” costs 100 points; you have 60."
    )
    assert (count(DrawEntry), count(Transaction)) == (0, transactions)
    assert member_balances(member.id).points == 60


def test_draw_points_come_from_several_cards(bot: Any, make_member: Any, make_card: Any) -> None:
    services.open_draw("积分抽奖", points_cost=100)
    member = make_member(PHONE)
    give_points(member_cards(member)[0], 70)
    give_points(make_card("points", member=member), 40)
    assert "剩余 10 积分" in bot(PHONE).text("CJ")
    assert member_balances(member.id).points == 10


# --- CLI -------------------------------------------------------------------------------


def test_cli_vote_open_and_close(runner: Any, bot: Any, make_member: Any) -> None:
    result = runner.invoke(
        args=["vote", "open", "新品投票", "--option", "A=红豆奶茶", "--option", "b=抹茶拿铁"]
    )
    assert result.exit_code == 0, result.output
    vote_id = services.current_vote().id
    assert result.output.strip() == f"vote {vote_id} open: 新品投票 (A=红豆奶茶, B=抹茶拿铁)"
    # (A failing command rolls back the test's whole session, so it comes first.)
    again = runner.invoke(args=["vote", "open", "又一个", "--option", "A=x", "--option", "B=y"])
    assert again.exit_code == 1 and "another vote is open" in again.output
    make_member(PHONE)
    assert bot(PHONE).send("TP B").text.startswith("感谢参与")
    closed = runner.invoke(args=["vote", "close", str(vote_id)])
    assert closed.exit_code == 0, closed.output
    lines = closed.output.splitlines()
    assert lines[0] == f"vote {vote_id} closed: 新品投票"
    assert lines[-2].split() == ["A", "红豆奶茶", "0"]
    assert lines[-1].split() == ["B", "抹茶拿铁", "1"]
    assert services.current_vote() is None


def test_cli_vote_refuses_a_bad_option(runner: Any) -> None:
    result = runner.invoke(args=["vote", "open", "x", "--option", "A", "--option", "B=y"])
    assert result.exit_code == 2 and "is not CODE=label" in result.output
    assert count(Vote) == 0


def test_cli_draw_open_and_close(runner: Any, bot: Any, make_member: Any) -> None:
    result = runner.invoke(
        args=["draw", "open", "周年抽奖", "--min-level-rank", "2", "--points-cost", "50"]
    )
    assert result.exit_code == 0, result.output
    draw = db.session.scalar(select(Draw))
    assert result.output.splitlines() == [
        f"draw {draw.id} open: 周年抽奖 (level rank 2+, 50 points per entry)",
        f"seed sha256 {draw.seed_sha256}",
    ]
    closed = runner.invoke(args=["draw", "close", str(draw.id)])
    assert closed.output.strip() == f"draw {draw.id} closed: 周年抽奖 (0 entries, 0 winners)"
    assert draw.status == "closed"
    bad = runner.invoke(args=["draw", "open", "x", "--points-cost", "-5"])
    assert bad.exit_code == 1 and "points cost runs from 0 to" in bad.output


def test_cli_messages_list(runner: Any, bot: Any, make_member: Any, make_store: Any) -> None:
    make_member(PHONE, name="张三")
    make_member(OTHER, home_store=make_store("BJ01", "三里屯店").code)
    bot(PHONE).send("留言 汤有点咸")
    bot(OTHER).send("MSG great coffee")
    result = runner.invoke(args=["messages", "list", "--store", "SH01", "--mark-read"])
    assert result.exit_code == 0, result.output
    assert "张三" in result.output and "汤有点咸" in result.output
    assert "great coffee" not in result.output
    unread = runner.invoke(args=["messages", "list", "--unread"])
    assert "汤有点咸" not in unread.output and "great coffee" in unread.output
    assert count(StoreMessage) == 2


@pytest.mark.parametrize("kind", ["vote", "draw"])
def test_closing_is_idempotent_and_an_unknown_id_is_not_found(app: Any, kind: str) -> None:
    if kind == "vote":
        opened = services.open_vote("新品投票", [("A", "红豆奶茶"), ("B", "抹茶拿铁")])
        close, current = services.close_vote, services.current_vote
    else:
        opened = services.open_draw("周年抽奖")
        close, current = services.close_draw, services.current_draw
    assert current() is opened
    first = close(opened.id)
    closed_at = first.closed_at
    again = close(opened.id)
    assert again.status == "closed" and again.closed_at == closed_at
    assert current() is None
    with pytest.raises(NotFound, match=f"no {kind} 999999"):
        close(999999)
