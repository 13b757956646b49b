"""``laoyou cards issue`` (batches of anonymous cards) and ``cards show``."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.cards.models import Card
from app.cards.numbers import luhn_valid
from app.cards.services import change_state, find_card, verify_pin
from app.db import db
from app.errors import WrongPin


def card_count() -> int:
    return db.session.scalar(select(func.count(Card.id)))


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_issue_a_batch_of_gift_cards(runner, tmp_path):
    out = tmp_path / "cards.csv"

    result = runner.invoke(
        args=["cards", "issue", "--type", "gift", "--count", "500", "--out", str(out)]
    )

    assert result.exit_code == 0, result.output
    assert f"issued 500 gift cards; written to {out}" in result.output
    rows = read_csv(out)
    assert len(rows) == 500
    # Gift cards get PINs by default (issue 9): the number alone must not claim one.
    assert list(rows[0]) == ["number", "type", "state", "value_fen", "pin"]
    numbers = [r["number"] for r in rows]
    assert len(set(numbers)) == 500
    assert all(luhn_valid(n) and n.startswith("88") and len(n) == 16 for n in numbers)
    assert {(r["type"], r["state"], r["value_fen"]) for r in rows} == {("gift", "active", "0")}
    cards = db.session.scalars(select(Card)).all()
    assert sorted(c.number for c in cards) == sorted(numbers)
    assert all(c.member_id is None and c.type == "gift" and not c.rechargeable for c in cards)
    assert all(c.pin_hash is not None for c in cards)
    first = find_card(rows[0]["number"])
    verify_pin(first, rows[0]["pin"])
    assert out.stat().st_mode & 0o077 == 0


def test_gift_cards_without_pins_only_when_asked(runner, tmp_path):
    out = tmp_path / "cards.csv"

    result = runner.invoke(
        args=["cards", "issue", "--type", "gift", "--count", "2", "--no-pins", "--out", str(out)]
    )

    assert result.exit_code == 0, result.output
    rows = read_csv(out)
    assert list(rows[0]) == ["number", "type", "state", "value_fen"]
    assert all(find_card(r["number"]).pin_hash is None for r in rows)


def test_a_preload_over_the_maximum_is_refused_and_writes_nothing(runner, tmp_path):
    out = tmp_path / "cards.csv"

    result = runner.invoke(
        args=[
            "cards",
            "issue",
            "--type",
            "gift",
            "--count",
            "2",
            "--value-cents",
            "100000000000",
            "--out",
            str(out),
        ]
    )

    assert result.exit_code == 1
    assert "more than one transaction may move (10000000 fen)" in result.output
    assert card_count() == 0
    assert not out.exists()


def test_pins_and_qr_tokens_are_in_the_csv_and_work(runner, tmp_path):
    out = tmp_path / "stock.csv"

    result = runner.invoke(
        args=[
            "cards",
            "issue",
            "--type",
            "points",
            "--count",
            "3",
            "--pins",
            "--qr",
            "--out",
            str(out),
        ]
    )

    assert result.exit_code == 0, result.output
    rows = read_csv(out)
    assert list(rows[0]) == ["number", "type", "state", "value_fen", "pin", "qr_token"]
    for row in rows:
        card = find_card(row["qr_token"])
        assert card is not None and card.number == row["number"]
        verify_pin(card, row["pin"])
        with pytest.raises(WrongPin):
            verify_pin(card, "000000" if row["pin"] != "000000" else "111111")
    assert out.stat().st_mode & 0o077 == 0  # PINs: readable by the owner only


def test_period_cards_need_a_period_and_get_their_dates(runner, tmp_path):
    out = tmp_path / "period.csv"
    refused = runner.invoke(
        args=["cards", "issue", "--type", "period", "--count", "2", "--out", str(out)]
    )
    assert refused.exit_code == 2 and "--period" in refused.output
    assert not out.exists()

    result = runner.invoke(
        args=[
            "cards",
            "issue",
            "--type",
            "period",
            "--period",
            "month",
            "--count",
            "2",
            "--out",
            str(out),
        ]
    )

    assert result.exit_code == 0, result.output
    rows = read_csv(out)
    assert all(r["valid_from"] and r["valid_until"] > r["valid_from"] for r in rows)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--type", "platinum", "--count", "5"], "Invalid value for '--type'"),
        (["--type", "gift", "--count", "0"], "Invalid value for '--count'"),
        (["--type", "gift", "--count", "-3"], "Invalid value for '--count'"),
        (["--type", "points", "--count", "5", "--value-cents", "100"], "--value-cents needs"),
        (["--type", "gift", "--count", "5", "--visits", "10"], "--visits is for count cards"),
        (
            ["--type", "gift", "--count", "5", "--value-cents", "-1"],
            "Invalid value for '--value-cents'",
        ),
    ],
)
def test_bad_options_are_refused_and_write_nothing(runner, tmp_path, args, message):
    out = tmp_path / "cards.csv"

    result = runner.invoke(args=["cards", "issue", *args, "--out", str(out)])

    assert result.exit_code == 2
    assert message in result.output
    assert card_count() == 0
    assert not out.exists()


def test_an_existing_file_is_never_overwritten(runner, tmp_path):
    out = tmp_path / "cards.csv"
    out.write_text("earlier batch with PINs\n")

    result = runner.invoke(
        args=["cards", "issue", "--type", "gift", "--count", "2", "--out", str(out)]
    )

    assert result.exit_code == 2 and "already exists" in result.output
    assert out.read_text() == "earlier batch with PINs\n"
    assert card_count() == 0


def test_unknown_store_removes_the_half_written_file(runner, tmp_path):
    out = tmp_path / "cards.csv"

    result = runner.invoke(
        args=[
            "cards",
            "issue",
            "--type",
            "gift",
            "--count",
            "2",
            "--store",
            "NOPE",
            "--out",
            str(out),
        ]
    )

    assert result.exit_code == 1 and "no store with code 'NOPE'" in result.output
    assert not out.exists()
    assert card_count() == 0


def test_preloaded_value_is_on_every_card(runner, tmp_path):
    from app.ledger.balances import card_balances

    out = tmp_path / "cards.csv"

    result = runner.invoke(
        args=[
            "cards",
            "issue",
            "--type",
            "gift",
            "--count",
            "3",
            "--value-cents",
            "10000",
            "--out",
            str(out),
        ]
    )

    assert result.exit_code == 0, result.output
    assert "100.00 yuan each" in result.output
    for row in read_csv(out):
        assert row["value_fen"] == "10000"
        assert card_balances(find_card(row["number"]).id).stored_value_fen == 10000


def test_show_a_card_with_its_history(runner, make_member):
    member = make_member("13800138000", name="王小明")
    card = find_card(member.phone)
    change_state(card, "report-lost", actor="apikey:1", reason="丢失")
    db.session.commit()

    result = runner.invoke(args=["cards", "show", card.number])

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"card {card.number}  stored_value  lost"
    assert "holder: 王小明 +8613800138000" in result.output
    history = lines[lines.index("history:") + 1 :]
    assert [h.split()[2] for h in history] == ["issue", "report-lost"]
    assert "active → lost" in history[1] and "丢失" in history[1]


def test_show_resolves_a_phone_and_refuses_an_unknown_card(runner, make_member):
    member = make_member("13800138000")
    db.session.commit()

    by_phone = runner.invoke(args=["cards", "show", "138 0013 8000"])
    unknown = runner.invoke(args=["cards", "show", "8800000000000000"])

    assert by_phone.exit_code == 0 and find_card(member.phone).number in by_phone.output
    assert unknown.exit_code == 1 and "no card matches '8800000000000000'" in unknown.output


def test_count_cards_get_their_visits(runner, tmp_path):
    from app.ledger.balances import card_balances

    out = tmp_path / "visits.csv"

    result = runner.invoke(
        args=[
            "cards",
            "issue",
            "--type",
            "count",
            "--count",
            "2",
            "--visits",
            "10",
            "--out",
            str(out),
        ]
    )

    assert result.exit_code == 0, result.output
    assert "issued 2 count cards, 10 visits each" in result.output
    rows = read_csv(out)
    assert [r["visits"] for r in rows] == ["10", "10"]
    assert all(card_balances(find_card(r["number"]).id).visits == 10 for r in rows)
