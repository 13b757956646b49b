"""Draws drawn fairly and auditably, paid entries refunded, and the schedule job.

The winners are recomputed here by an independent reading of the procedure in
docs/architecture.md ("Campaigns: votes and draws"), from what a member can see: the
published seed hash, then the revealed seed and the ordered entry list.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from typing import Any

import pytest
from sqlalchemy import delete, func, select

from app import clock
from app.campaigns import services
from app.campaigns.draw_jobs import campaign_schedule
from app.campaigns.draws import pick, verify
from app.campaigns.errors import CampaignStatus
from app.campaigns.models import Draw, DrawEntry, DrawWinner, Vote
from app.cards.services import member_cards
from app.db import db
from app.ledger.balances import member_balances
from app.ledger.models import Transaction
from app.messaging.models import OutboxMessage
from tests.bot.support import give_points


def outbox(key_prefix: str) -> list[OutboxMessage]:
    return list(
        db.session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.dedupe_key.startswith(key_prefix))
            .order_by(OutboxMessage.id)
        )
    )


def by_hand(seed: bytes, entries: list[tuple[int, int]], slots: int) -> list[int]:
    """The documented procedure, written out again: the entry ids drawn, in order."""
    digest = hashlib.sha256(b"".join(f"{e}:{m}\n".encode() for e, m in entries)).digest()
    remaining = list(entries)
    drawn: list[int] = []
    i = 0
    while len(drawn) < min(slots, len(entries)):
        block = hmac.new(seed, digest + i.to_bytes(8, "big"), hashlib.sha256).digest()
        i += 1
        r = int.from_bytes(block[:8], "big")
        if r >= 2**64 - 2**64 % len(remaining):
            continue
        drawn.append(remaining.pop(r % len(remaining))[0])
    return drawn


@pytest.fixture
def entrants(app: Any, make_member: Any) -> list[Any]:
    languages = ["zh-Hans", "en", "zh-Hant"]
    return [make_member(language=languages[n % 3]) for n in range(7)]


def test_winners_follow_from_the_revealed_seed(runner: Any, entrants: list[Any]) -> None:
    draw = services.open_draw("周年抽奖", prizes=[("保温杯", 1), ("代金券", 2)])
    published = draw.seed_sha256
    shown = runner.invoke(args=["draw", "show", str(draw.id)])
    assert f"seed sha256   {published}" in shown.output
    assert draw.seed is not None and draw.seed.hex() not in shown.output  # still secret
    for member in entrants:
        services.enter_draw(member, channel="sms")

    services.close_draw(draw.id)

    shown = runner.invoke(args=["draw", "show", str(draw.id)])
    seed_hex = next(
        line.split()[-1] for line in shown.output.splitlines() if line.startswith("seed  ")
    )
    seed = bytes.fromhex(seed_hex)
    assert hashlib.sha256(seed).hexdigest() == published
    entries = [
        (e.id, e.member_id) for e in db.session.scalars(select(DrawEntry).order_by(DrawEntry.id))
    ]
    winners = db.session.scalars(select(DrawWinner).order_by(DrawWinner.pick)).all()
    assert [w.entry_id for w in winners] == by_hand(seed, entries, 3)
    assert [w.prize.name for w in winners] == ["保温杯", "代金券", "代金券"]
    assert len({w.member_id for w in winners}) == 3

    verified = runner.invoke(args=["draw", "verify", str(draw.id)])
    assert verified.exit_code == 0, verified.output
    assert verified.output.startswith(f"draw {draw.id}: match (7 entries, 3 winners")


def test_a_tampered_entry_list_is_detected(runner: Any, entrants: list[Any]) -> None:
    draw = services.open_draw("抽奖", prizes=[("杯子", 2)])
    for member in entrants:
        services.enter_draw(member, channel="sms")
    services.close_draw(draw.id)
    winners = {w.entry_id for w in db.session.scalars(select(DrawWinner))}
    loser = next(e for e in db.session.scalars(select(DrawEntry)) if e.id not in winners)
    db.session.execute(delete(DrawEntry).where(DrawEntry.id == loser.id))
    db.session.flush()

    result = runner.invoke(args=["draw", "verify", str(draw.id)])
    assert result.exit_code == 1
    assert f"draw {draw.id}: mismatch" in result.output
    assert "the entry list differs from the one drawn from" in result.output


def test_tampered_winners_are_detected(app: Any, entrants: list[Any]) -> None:
    draw = services.open_draw("抽奖", prizes=[("杯子", 1)])
    for member in entrants:
        services.enter_draw(member, channel="sms")
    services.close_draw(draw.id)
    winner = db.session.scalar(select(DrawWinner))
    other = next(e for e in db.session.scalars(select(DrawEntry)) if e.id != winner.entry_id)
    winner.entry_id, winner.member_id = other.id, other.member_id
    db.session.flush()
    assert verify(draw).problems == ["the stored winners differ from those the seed gives"]


def test_the_selection_has_no_modulo_bias() -> None:
    # 2**64 % 3 == 1: the one value 2**64 - 1 is rejected, never folded onto index 0.
    seed, digest = b"s" * 32, b"d" * 32
    assert sorted(pick(seed, digest, 5, 5)) == [0, 1, 2, 3, 4]
    assert pick(seed, digest, 5, 2) == pick(seed, digest, 5, 2)
    assert pick(seed, digest, 3, 10) != pick(b"t" * 32, digest, 3, 10)


def test_results_reach_every_entrant_in_their_language(app: Any, entrants: list[Any]) -> None:
    draw = services.open_draw("Anniversary", prizes=[("a mug", 1)])
    for member in entrants:
        services.enter_draw(member, channel="sms")
    services.close_draw(draw.id)
    services.close_draw(draw.id)  # again: nothing new

    rows = outbox(f"draw:{draw.id}:result:")
    assert len(rows) == 7 and {r.kind for r in rows} == {"alert"}
    winner = db.session.scalar(select(DrawWinner))
    by_member = {r.member_id: r for r in rows}
    won = by_member[winner.member_id]
    assert "a mug" in won.body and won.address == winner.member.phone
    english = next(r for r in rows if r.language == "en" and r.member_id != winner.member_id)
    assert english.body == (
        "The draw “Anniversary” is done: 1 winner(s) among 7 entries. "
        "You did not win this time; thank you for taking part."
    )
    chinese = next(r for r in rows if r.language == "zh-Hans" and r.member_id != winner.member_id)
    assert "Anniversary" in chinese.body and "7" in chinese.body and "You did" not in chinese.body


def test_points_cost_charged_and_refunded_on_cancel(app: Any, make_member: Any) -> None:
    member = make_member(language="en")
    give_points(member_cards(member)[0], 300)
    draw = services.open_draw("Paid draw", points_cost=100, prizes=[("cup", 1)])
    entry = services.enter_draw(member, channel="sms")
    assert member_balances(member.id).points == 200

    services.cancel_draw(draw.id)
    services.cancel_draw(draw.id)  # a second cancel refunds nothing more

    assert member_balances(member.id).points == 300
    refund = db.session.scalar(select(Transaction).where(Transaction.reason == "draw_refund"))
    assert refund is not None and refund.reverses_id == entry.ledger_transaction_id
    assert entry.refund_transaction_id == refund.id
    assert (
        db.session.scalar(
            select(func.count()).select_from(Transaction).where(Transaction.reason == "draw_refund")
        )
        == 1
    )
    [notice] = outbox(f"draw:{draw.id}:cancelled:")
    assert (
        notice.body == "The draw “Paid draw” was cancelled. Your 100 points are back on your card."
    )
    with pytest.raises(CampaignStatus):
        services.close_draw(draw.id)


def test_a_drawn_draw_cannot_be_cancelled(app: Any, make_member: Any) -> None:
    draw = services.open_draw("x", prizes=[("cup", 1)])
    services.close_draw(draw.id)
    with pytest.raises(CampaignStatus):
        services.cancel_draw(draw.id)


def test_the_schedule_job_opens_and_closes_once(app: Any, make_member: Any) -> None:
    start = dt.datetime(2026, 12, 8, 2, 0, tzinfo=dt.UTC)
    with clock.frozen(start):
        vote = services.open_vote(
            "新品投票",
            [("A", "红豆"), ("B", "抹茶")],
            opens_at=start + dt.timedelta(hours=1),
            closes_at=start + dt.timedelta(hours=5),
        )
        draw = services.open_draw(
            "周年抽奖",
            prizes=[("杯子", 1)],
            opens_at=start + dt.timedelta(hours=1),
            closes_at=start + dt.timedelta(hours=6),
        )
        assert (vote.status, draw.status, draw.seed_sha256) == ("scheduled", "scheduled", None)
        assert campaign_schedule(start.date(), "k0")["votes_opened"] == 0

    with clock.frozen(start + dt.timedelta(hours=1, minutes=2)):
        first = campaign_schedule(start.date(), "k1")
        second = campaign_schedule(start.date(), "k1")
    assert first["votes_opened"] == first["draws_opened"] == 1
    assert second["votes_opened"] == second["draws_opened"] == 0
    assert (vote.status, draw.status) == ("open", "open") and draw.seed_sha256
    voter = make_member(language="en")
    services.cast_ballot(voter, "B", channel="sms")
    services.enter_draw(voter, channel="sms")

    with clock.frozen(start + dt.timedelta(hours=6, minutes=1)):
        first = campaign_schedule(start.date(), "k2")
        second = campaign_schedule(start.date(), "k2")
    assert (first["votes_closed"], first["draws_drawn"]) == (1, 1)
    assert (second["votes_closed"], second["draws_drawn"]) == (0, 0)
    assert (vote.status, draw.status) == ("closed", "closed")
    [result] = outbox(f"vote:{vote.id}:result:")
    assert result.body == (
        "The vote “新品投票” has closed. Results: A 红豆: 0; B 抹茶: 1. Thank you for voting!"
    )
    assert len(outbox(f"draw:{draw.id}:result:")) == 1
    assert db.session.scalar(select(func.count()).select_from(DrawWinner)) == 1


def test_a_scheduled_vote_waits_while_another_is_open(app: Any) -> None:
    services.open_vote("现在", [("A", "x"), ("B", "y")])
    later = services.open_vote(
        "稍后", [("A", "x"), ("B", "y")], opens_at=clock.now() + dt.timedelta(minutes=1)
    )
    with clock.frozen(clock.now() + dt.timedelta(minutes=2)):
        counts = campaign_schedule(clock.local_today(), "k")
    assert counts["waiting"] == 1 and later.status == "scheduled"
    assert (
        db.session.scalar(select(func.count()).select_from(Vote).where(Vote.status == "open")) == 1
    )


def test_eligibility_by_level(app: Any, make_member: Any, make_level: Any) -> None:
    from app.campaigns.errors import NotEligible

    silver, gold = make_level("Silver", rank=1), make_level("Gold", rank=2)
    vote = services.open_vote("金卡投票", [("A", "x"), ("B", "y")], min_level_rank=2)
    plain = make_member()
    plain.level = silver
    with pytest.raises(NotEligible) as refused:
        services.cast_ballot(plain, "A", channel="sms")
    assert refused.value.details["reason"] == "level"
    member = make_member()
    member.level = gold
    services.cast_ballot(member, "A", channel="sms")
    assert services.ballot_count(vote) == 1


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"closes_at": dt.datetime(2000, 1, 1, tzinfo=dt.UTC)}, "closes_at"),
        ({"segment_key": "vip"}, "segment"),
        ({"points_cost": -1}, "points_cost"),
        ({"points_cost": 10**12}, "points_cost"),
        ({"prizes": [("cup", 0)]}, "prizes"),
        ({"prizes": [("cup", 10_001)]}, "prizes"),
        ({"min_level_rank": 0}, "min_level_rank"),
    ],
)
def test_bad_draws_are_refused(app: Any, kwargs: dict[str, Any], field: str) -> None:
    from app.errors import InvalidRequest

    with pytest.raises(InvalidRequest) as refused:
        services.open_draw("x", **kwargs)
    assert refused.value.details["field"] == field
    assert db.session.scalar(select(func.count()).select_from(Draw)) == 0


@pytest.mark.parametrize(
    "text", ["2026-13-01 10:00", "tomorrow", "2026-02-30 10:00", "1900-01-01 00:00"]
)
def test_bad_local_times_are_refused(app: Any, text: str) -> None:
    from app.errors import InvalidRequest

    with pytest.raises(InvalidRequest):
        services.local_time(text, "opens_at")


def test_local_times_are_the_programmes(app: Any) -> None:
    # Asia/Shanghai: 20:00 local is 12:00 UTC.
    assert services.local_time("2026-12-24 20:00", "opens_at") == dt.datetime(
        2026, 12, 24, 12, 0, tzinfo=dt.UTC
    )


def test_a_member_who_entered_by_wechat_hears_on_wechat(app: Any, make_member: Any) -> None:
    from app.members.wechat import bind_openid

    bound, unbound = make_member(language="zh-Hant"), make_member(language="zh-Hant")
    bind_openid("oOPENID123", bound, via="code")
    draw = services.open_draw("週年抽獎", prizes=[("杯子", 2)])
    services.enter_draw(bound, channel="wechat")
    services.enter_draw(unbound, channel="wechat")  # not bound: SMS instead
    services.close_draw(draw.id)
    rows = {r.member_id: r for r in outbox(f"draw:{draw.id}:result:")}
    assert (rows[bound.id].channel, rows[bound.id].address) == ("wechat", "oOPENID123")
    assert (rows[unbound.id].channel, rows[unbound.id].address) == ("sms", unbound.phone)
    assert (
        rows[bound.id].body == "恭喜！您在「週年抽獎」抽獎中獲得杯子。請到任一門店出示本訊息領取。"
    )


def test_a_draw_for_a_saved_segment_admits_its_members_only(app: Any, make_member: Any) -> None:
    from app.campaigns.errors import NotEligible
    from app.campaigns.segments import save_segment

    save_segment("VIP", {"field": "tag", "op": "has", "value": "vip"}, created_by="amy")
    vip, plain = make_member(tags=["vip"]), make_member()
    draw = services.open_draw("VIP 抽奖", segment_key="VIP", prizes=[("cup", 1)])

    services.enter_draw(vip, channel="sms")
    with pytest.raises(NotEligible) as refused:
        services.enter_draw(plain, channel="sms")

    assert refused.value.details["reason"] == "segment"
    assert [e.member_id for e in db.session.scalars(select(DrawEntry))] == [vip.id]
    assert draw.segment_key == "VIP"
