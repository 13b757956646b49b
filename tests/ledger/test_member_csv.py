"""Member import and export as CSV: a shop's move from its old system, and back out."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path
from typing import Any

import pytest
from ledger_support import RULES, counts, lots
from sqlalchemy import select

from app.cards.models import Card, CardEvent
from app.cards.services import find_card, issue_card, member_cards
from app.db import Base, db
from app.ledger import journal
from app.ledger.balances import card_balances, member_balances
from app.ledger.check import run_check
from app.ledger.member_csv import (
    COLUMNS,
    MAX_LINE_CHARS,
    FileRefused,
    export_members,
    import_members,
)
from app.ledger.models import Line, Transaction
from app.ledger.operations import checkout, load_value, recharge
from app.ledger.rules.io import import_rules
from app.members.services import find_member_by_phone
from app.messaging.models import OutboxMessage
from app.stores.services import get_store

HEADER = ",".join(COLUMNS)
#: Three members: one with two cards and a lunar birthday, one at Gold with a count card,
#: one without a card. Points expire at the end of 2027.
FILE = (
    "phone,name,gender,birthday,birthday_calendar,language,home_store,level,card_number,"
    "card_type,points,points_expire_on,stored_value_fen,stored_value_bonus_fen,visits\n"
    "13800138000,王小明,男,1990-08-15,lunar,zh-Hans,SH01,Silver,6200001,stored_value,"
    "1500,2027-12-31,88800,8800,\n"
    "13800138000,王小明,男,1990-08-15,lunar,zh-Hans,SH01,Silver,6200002,points,200,,,,\n"
    "+85291234567,Mary Chan,female,1985-02-03,,en,SH02,Gold,6200003,count,,,,,12\n"
    "13900139000,李四,,,,zh-Hant,SH01,,,,,,,,\n"
)


@pytest.fixture
def shop(ledger_rules: Any) -> None:
    """SH01, SH02 and the levels Regular, Silver, Gold."""


def run(text: str | bytes, *, encoding: str = "utf-8", dry_run: bool = False) -> Any:
    data = text if isinstance(text, bytes) else text.encode(encoding)
    return import_members(io.BytesIO(data), actor="cli:test", dry_run=dry_run)


def export_text() -> str:
    out = io.StringIO()
    export_members(out)
    return out.getvalue()


def outbox() -> int:
    return len(db.session.scalars(select(OutboxMessage)).all())


def test_import_makes_members_cards_and_opening_balances(shop: None) -> None:
    report = run(FILE)

    assert report.refusals == []
    assert (report.imported, report.skipped, report.refused) == (4, 0, 0)
    assert (report.members_created, report.cards_issued, report.openings_posted) == (3, 3, 3)
    wang = find_member_by_phone("13800138000")
    assert (wang.name, wang.gender, wang.language, wang.level.name) == (
        "王小明",
        "male",
        "zh-Hans",
        "Silver",
    )
    assert (wang.birthday_calendar, wang.birthday_month, wang.birthday_day) == ("lunar", 8, 15)
    first, second = member_cards(wang)
    assert (first.number, first.type, first.is_primary) == ("6200001", "stored_value", True)
    assert (second.number, second.type) == ("6200002", "points")
    assert card_balances(first.id).as_dict() == {
        "points": 1500,
        "stored_value_fen": 88800,
        "visits": 0,
    }
    assert lots(first.id) == [(1500, 1500, dt.date(2027, 12, 31))]
    assert lots(second.id) == [(200, 200, None)]  # no date: never expires
    assert member_balances(wang.id).points == 1700
    mary = find_member_by_phone("+852 9123 4567")
    assert (mary.level.name, mary.home_store.code, mary.language) == ("Gold", "SH02", "en")
    assert card_balances(member_cards(mary)[0].id).visits == 12
    li = find_member_by_phone("13900139000")
    assert (li.name, li.language, member_cards(li)) == ("李四", "zh-Hant", [])
    # The card numbers work at the counter, and the phone finds the primary card.
    assert find_card("6200003").member_id == mary.id
    assert find_card("13800138000").number == "6200001"
    # Opening balances: paid and bonus kept apart, no alert, no sign-up gift.
    opening = db.session.scalars(select(Transaction).where(Transaction.card_id == first.id)).one()
    assert (opening.kind, opening.actor, opening.idempotency_key) == (
        "opening",
        "cli:test",
        "opening:6200001",
    )
    assert {
        asset: int(amount)
        for asset, amount in db.session.execute(
            select(Line.asset, Line.amount).where(
                Line.transaction_id == opening.id, Line.balance_after.is_not(None)
            )
        )
    } == {"points": 1500, "stored_value_paid": 80000, "stored_value_bonus": 8800}
    assert outbox() == 0
    assert run_check().problems == []


def test_the_same_file_twice_changes_nothing(shop: None) -> None:
    run(FILE)
    before = counts()
    events = len(db.session.scalars(select(CardEvent)).all())

    again = run(FILE)

    assert (again.imported, again.skipped, again.refused) == (0, 4, 0)
    assert counts() == before
    assert len(db.session.scalars(select(CardEvent)).all()) == events
    assert member_balances(find_member_by_phone("13800138000").id).stored_value_fen == 88800


def test_a_changed_balance_on_reimport_is_refused_row_by_row(shop: None) -> None:
    run(FILE)
    changed = FILE.replace("1500,2027-12-31,88800", "1500,2027-12-31,99900")

    report = run(changed)

    assert (report.imported, report.skipped, report.refused) == (0, 3, 1)
    (refusal,) = report.refusals
    assert (refusal.line, refusal.card_number) == (2, "6200001")
    assert "already has opening balances from an earlier import" in refusal.message
    assert "stored value 88800 fen" in refusal.message and "99900 fen" in refusal.message
    assert card_balances(find_card("6200001").id).stored_value_fen == 88800


def test_dry_run_reports_and_writes_nothing(shop: None) -> None:
    before = counts()
    report = run(FILE + "13700137000,,,,,,NOPE,,,,,,,,\n", dry_run=True)
    assert report.dry_run
    assert (report.imported, report.refused, report.members_created) == (4, 1, 3)
    assert report.refusals[0].message == "no store with code 'NOPE'"
    assert counts() == before
    assert find_member_by_phone("13800138000") is None


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("12,,,,,,SH01,,,,,,,,", "not a valid phone number"),
        (",Name,,,,,SH01,,,,,,,,", "phone is required"),
        ("13700137000,,,,,,,,,,,,,,", "home_store is required"),
        ("13700137000,,,,,,SH01,Platinum,,,,,,,", "no level named 'Platinum'"),
        ("13700137000,,robot,,,,SH01,,,,,,,,", "gender must be one of"),
        ("13700137000,,,,,fr,SH01,,,,,,,,", "language must be one of"),
        ("13700137000,,,1990-02-30,,,SH01,,,,,,,,", "is not a date"),
        ("13700137000,,,2099-01-01,,,SH01,,,,,,,,", "birthday is in the future"),
        ("13700137000,,,2023-13-01,lunar,,SH01,,,,,,,,", "did not exist"),
        ("13700137000,,,,mayan,,SH01,,,,,,,,", "birthday_calendar must be"),
        ("13700137000,,,,,,SH01,,12ab,,,,,,", "a card number is 4 to 19 digits"),
        ("13700137000,,,,,,SH01,,12345678901234567890,,,,,,", "4 to 19 digits"),
        ("13700137000,,,,,,SH01,,6200009,platinum,,,,,", "card_type must be one of"),
        ("13700137000,,,,,,SH01,,6200009,,-5,,,,", "points must be between 0"),
        ("13700137000,,,,,,SH01,,6200009,,1e9,,,,", "points must be a whole number"),
        ("13700137000,,,,,,SH01,,6200009,,,,99999999999,,", "stored_value_fen must be between"),
        ("13700137000,,,,,,SH01,,6200009,,,,100,200,", "is part of stored_value_fen"),
        ("13700137000,,,,,,SH01,,6200009,,,,-100,,", "needs a credit_limit_fen"),
        ("13700137000,,,,,,SH01,,6200009,,10,2020-01-01,,,", "has passed"),
        ("13700137000,,,,,,SH01,,6200009,,,2030-01-01,,,", "points_expire_on without points"),
        ("13700137000,,,,,,SH01,,6200009,,50,2030-01-01:20;never:20,,,", "must add up to points"),
        ("13700137000,,,,,,SH01,,6200009,,50,2030-01-01:x;never:20,,,", "DAY:POINTS"),
        ("13700137000,,,,,,SH01,,6200009,,50,2030-01-01:0;never:50,,,", "DAY:POINTS"),
        ("13700137000,,,,,,SH01,,6200009,,50,2020-01-01:30;never:20,,,", "has passed"),
        ("13700137000,,,,,,SH01,,,,10,,,,", "need a card_number"),
        ("13700137000,,,,,,SH01,,6200009,,,,,,99999", "visits must be between 0"),
        ("13700137000,Bad\x00Name,,,,,SH01,,,,,,,,", "name holds a control character"),
        ("13700137000,,,,,,SH01", "the row has 7 cells"),
    ],
)
def test_bad_rows_are_refused_with_line_and_reason(shop: None, row: str, message: str) -> None:
    good = "13600136000,Good,,,,,SH01,,6200010,,100,,,,\n"
    header = FILE.splitlines()[0]
    report = run(f"{header}\n{good}{row}\n")
    assert (report.imported, report.refused) == (1, 1)
    (refusal,) = report.refusals
    assert refusal.line == 3
    assert message in refusal.message
    assert find_member_by_phone("13700137000") is None
    assert card_balances(find_card("6200010").id).points == 100


def test_cards_already_in_laoyou(shop: None, make_member: Any) -> None:
    other = make_member("13500135000", home_store="SH01")
    taken = member_cards(other)[0].number
    gift = issue_card("gift", store=get_store("SH01"))
    loaded = issue_card("stored_value", store=get_store("SH01"))
    load_value(loaded, 500, idempotency_key="l", actor="t")
    header = FILE.splitlines()[0]
    text = (
        f"{header}\n"
        f"13700137000,,,,,,SH01,,{taken},,,,,,\n"
        f"13700137000,,,,,,SH01,,{gift.number},gift,,,,,\n"
        f"13700137000,,,,,,SH01,,{loaded.number},stored_value,,,1000,,\n"
        f"13700137000,,,,,,SH01,,{gift.number},stored_value,,,,,\n"
    )

    report = run(text)

    assert [(r.line, r.message) for r in report.refusals] == [
        (2, f"card {taken} belongs to another member"),
        (
            4,
            f"card {loaded.number} already has a history in Laoyou: opening balances go on "
            "new cards only",
        ),
        (5, f"card {gift.number} is a gift card, the file says stored_value"),
    ]
    # Refused rows count nothing they made before the refusal (their savepoint undid it).
    assert (report.imported, report.members_created, report.cards_issued) == (1, 1, 0)
    member = find_member_by_phone("13700137000")
    assert gift.member_id == member.id  # an anonymous card is bound
    assert loaded.member_id is None  # its row was refused whole


def test_points_expiring_on_several_days(shop: None) -> None:
    header = FILE.splitlines()[0]
    report = run(
        f"{header}\n13700137000,,,,,,SH01,,6200020,points,500,2027-06-30:300;never:200,,,\n"
    )
    assert report.refusals == []
    card = find_card("6200020")
    assert sorted(lots(card.id), key=str) == [
        (200, 200, None),
        (300, 300, dt.date(2027, 6, 30)),
    ]
    assert "2027-06-30:300;never:200" in export_text()


def test_card_states(shop: None) -> None:
    text = (
        "phone,home_store,card_number,card_type,card_state,stored_value_fen\n"
        "13700137000,SH01,6200030,stored_value,frozen,1000\n"
        "13700137000,SH01,6200031,points,lost,\n"
        "13700137000,SH01,6200032,points,cancelled,\n"
        "13700137000,SH01,6200033,points,broken,\n"
        "13700137000,SH01,,,active,\n"
    )
    report = run(text)
    assert [(r.line, r.message.split(" (")[0]) for r in report.refusals] == [
        (4, "card_state must be one of active, lost, frozen, expired"),
        (5, "card_state must be one of active, lost, frozen, expired"),
        (6, "card_state without card_number"),
    ]
    frozen = db.session.scalar(select(Card).where(Card.number == "6200030"))
    lost = db.session.scalar(select(Card).where(Card.number == "6200031"))
    assert (frozen.state, lost.state) == ("frozen", "lost")
    assert card_balances(frozen.id).stored_value_fen == 1000
    assert run(text).skipped == 2
    changed = run(text.replace("frozen,1000", "active,1000"))
    assert changed.refused == 4
    assert {r.line: r.message for r in changed.refusals}[2] == (
        "card 6200030 is frozen in Laoyou, the file says active: change a card's state at "
        "the counter or in the panel"
    )


def test_growth_is_carried_once(shop: None) -> None:
    from app.ledger.rules.levels import growth_of

    text = "phone,home_store,level,growth\n13700137000,SH01,Silver,4321\n"
    assert run(text).imported == 1
    member = find_member_by_phone("13700137000")
    assert (growth_of(member), member.level.name) == (4321, "Silver")  # no upgrade to Gold
    assert run(text).skipped == 1
    changed = run(text.replace("4321", "5000"))
    assert changed.refusals[0].message == (
        "the member already has growth 4321 in Laoyou; the file says 5000"
    )
    assert growth_of(member) == 4321
    assert run_check().problems == []


def test_profile_details_tags_and_answers(shop: None) -> None:
    from app.members.services import define_question

    define_question("dish", "Favourite dish", "text")
    text = (
        "phone,home_store,region,occupation,income_band,tags,answers\n"
        '13700137000,SH01,华东,厨师,B,wine; tea,"{""dish"": ""饺子""}"\n'
        '13700137001,SH01,,,,,"{""shoe"": 42}"\n'
        "13700137002,SH01,,,,,[1]\n"
        '13700137003,SH01,,,,,"{""dish"": "\n'
    )
    report = run(text)
    assert [(r.line, r.message) for r in report.refusals] == [
        (3, "unknown question(s): shoe"),
        (4, "answers must be a JSON object"),
        (5, "answers must be a JSON object"),
    ]
    member = find_member_by_phone("13700137000")
    assert (member.region, member.occupation, member.income_band) == ("华东", "厨师", "B")
    assert (member.tags, member.answers) == (["tea", "wine"], {"dish": "饺子"})
    assert run(text).skipped == 1
    assert ',华东,厨师,B,tea;wine,"{""dish"": ""饺子""}",' in export_text()


def test_gbk_file_from_chinese_excel(shop: None) -> None:
    report = run(FILE, encoding="gbk")
    assert (report.imported, report.refused) == (4, 0)
    assert find_member_by_phone("13900139000").name == "李四"
    assert find_member_by_phone("13800138000").name == "王小明"


def test_utf8_with_bom_and_crlf(shop: None) -> None:
    data = "\ufeff" + FILE.replace("\n", "\r\n")
    report = run(data)
    assert (report.imported, report.refused) == (4, 0)
    assert find_member_by_phone("13900139000").name == "李四"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "the file is empty"),
        ("phone,home_store\n".encode("utf-16"), "UTF-16"),
        (b"phone,home_store\n\xff\xfe\xfd\xfc\x80\x80\n", "neither UTF-8 nor GBK"),
        (b"phone,home_store,shoe_size\n", "unknown column(s): shoe_size"),
        (b"name\nx\n", "missing column(s): phone, home_store"),
        (b"phone,phone,home_store\n", "a column is named twice"),
        (
            b"phone,home_store\n13700137000,SH01\n13700137001," + b"x" * MAX_LINE_CHARS + b"\n",
            "line 3 is longer than 4096 characters",
        ),
    ],
)
def test_files_that_cannot_be_read_change_nothing(shop: None, data: bytes, message: str) -> None:
    before = counts()
    with pytest.raises(FileRefused) as refused, db.session.begin_nested():
        run(data)
    assert message in refused.value.message
    assert counts() == before
    assert find_member_by_phone("13700137000") is None


def test_export_blocks_formulas_and_import_reads_them_back(shop: None, make_member: Any) -> None:
    make_member("13700137000", name='=HYPERLINK("http://x")', home_store="SH01")
    text = export_text()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows[0]["name"] == '\'=HYPERLINK("http://x")'
    assert rows[0]["phone"] == "'+8613700137000"  # a leading + is a formula too


def _wipe() -> None:
    """Every table emptied (in the test's transaction): an empty database to import into."""
    db.session.flush()
    for table in reversed(Base.metadata.sorted_tables):
        db.session.execute(table.delete())
    db.session.expunge_all()
    journal.ensure_system_accounts()


def test_export_then_import_into_an_empty_database_round_trips(
    shop: None, make_member: Any
) -> None:
    from app.cards.services import change_state
    from app.ledger.adjustments import adjust

    run(FILE)
    store = get_store("SH01")
    wang = find_member_by_phone("13800138000")
    card = member_cards(wang)[0]
    recharge(card, store, 50000, key="r", actor="t")  # +50 yuan bonus
    checkout(card, store, 12345, "stored_value", key="c", actor="t")
    adjust(card, points=-3, reason="r", actor="s", key="a")
    header = FILE.splitlines()[0]
    run(f"{header}\n13600136000,,,,,,SH01,,6200020,points,500,2027-06-30:300;never:200,,,\n")
    from app.members.services import define_question, update_member

    define_question("dish", "Favourite dish", "text")
    odd = make_member("13700137000", name="-negative @at", home_store="SH02")
    update_member(odd, {"tags": ["+vip", "tea"], "region": "华北", "answers": {"dish": "面"}})
    overdraft = issue_card("stored_value", member=odd, store=store, credit_limit_fen=5000)
    checkout(overdraft, store, 1234, "stored_value", key="o", actor="t")
    change_state(member_cards(odd)[0], "cancel")  # a cancelled card is not exported
    change_state(find_card("6200003"), "freeze")
    first = export_text()

    _wipe()
    from app.stores.services import create_store

    create_store("SH01", "Store SH01", "East")
    create_store("SH02", "Store SH02", "North")
    import_rules(RULES)
    define_question("dish", "Favourite dish", "text")
    report = run(first)

    assert report.refusals == []
    assert export_text() == first
    assert run_check().problems == []
    assert card_balances(find_card("13700137000").id).stored_value_fen == -1234
    assert len(first.splitlines()) == 7
    assert "2027-06-30:300;never:200" in first
    assert ",Silver,117," in first  # the growth of 117.28 yuan charged (Silver: 5% off)
    assert db.session.scalar(select(Card.state).where(Card.number == "6200003")) == "frozen"


def test_cli_import_and_export(runner: Any, shop: None, tmp_path: Path) -> None:
    source = tmp_path / "old.csv"
    source.write_bytes((FILE + "13700137000,,,,,,NOPE,,,,,,,,\n").encode("gbk"))

    dry = runner.invoke(args=["member", "import", str(source), "--dry-run"])
    assert dry.exit_code == 1
    assert "line 6 (13700137000): no store with code 'NOPE'" in dry.output
    assert "dry run, nothing written: would import 4 rows" in dry.output
    assert find_member_by_phone("13800138000") is None

    done = runner.invoke(args=["member", "import", str(source)])
    assert done.exit_code == 1
    assert "imported 4 rows, skipped 0 (already imported), refused 1" in done.output
    assert find_member_by_phone("13800138000") is not None

    out = tmp_path / "members.csv"
    exported = runner.invoke(args=["member", "export", str(out)])
    assert exported.exit_code == 0, exported.output
    assert f"exported 3 members in 4 rows to {out}" in exported.output
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")  # Excel reads it as UTF-8
    assert out.stat().st_mode & 0o077 == 0
    again = runner.invoke(args=["member", "export", str(out)])
    assert again.exit_code == 2 and "already exists" in again.output

    reimport = runner.invoke(args=["member", "import", str(out)])
    assert reimport.exit_code == 0, reimport.output
    assert "imported 0 rows, skipped 4 (already imported), refused 0" in reimport.output

    missing = runner.invoke(args=["member", "import", str(tmp_path / "nope.csv")])
    assert missing.exit_code == 1 and "cannot read" in missing.output
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"shoe_size\n")
    refused = runner.invoke(args=["member", "import", str(bad)])
    assert refused.exit_code == 1 and "unknown column(s): shoe_size" in refused.output


def test_the_longest_line_and_too_many_rows(shop: None, monkeypatch: Any) -> None:
    from app.ledger import member_csv

    tags = "长" * (MAX_LINE_CHARS - len("13700137000,SH01,"))
    longest = f"phone,home_store,tags\r\n13700137000,SH01,{tags}\r\n13700137001,NOPE,x\r\n"
    report = run(longest)
    assert (report.imported, report.refused) == (1, 1)
    assert report.refusals[0].line == 3  # the longest line is one line, CRLF and all
    assert find_member_by_phone("13700137000").tags == [tags]
    monkeypatch.setattr(member_csv, "MAX_ROWS", 2)
    with pytest.raises(FileRefused) as refused, db.session.begin_nested():
        run("phone,home_store\n13700137005,SH01\n13700137006,SH01\n13700137007,SH01\n")
    assert refused.value.message == "more than 2 rows: split the file"
    assert find_member_by_phone("13700137005") is None


def test_cards_table_untouched_by_a_refused_file(shop: None) -> None:
    with pytest.raises(FileRefused), db.session.begin_nested():
        run(b"phone,home_store\n" + b"1" * (MAX_LINE_CHARS + 10))
    assert db.session.scalars(select(Card)).all() == []
