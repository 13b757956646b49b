"""The counter program against a live central service: sign in, look up, check out, print."""

from __future__ import annotations

import datetime as dt
from typing import Any

from app.campaigns import promotions
from app.campaigns.promotions import PromotionTerms
from app.db import db
from app.ledger.models import Transaction
from tests.store_station.counter.conftest import PASSWORD, TcpPrinter, World

ESC_P_DRAWER = b"\x1bp"
CUT = b"\x1dV"


def sign_in(client: Any, username: str = "alice", password: str = PASSWORD) -> Any:
    return client.post("/local/signin", json={"username": username, "password": password})


def test_sign_in_lookup_checkout_prints_and_the_ledger_names_the_staff(
    counter: tuple[Any, Any], world: World, tcp_printer: TcpPrinter
) -> None:
    _station, client = counter
    assert client.post("/local/lookup", json={"ref": world.card_number}).status_code == 401
    signed = sign_in(client)
    assert signed.status_code == 200, signed.json
    assert signed.json["store"] == "SH01"

    found = client.post("/local/lookup", json={"ref": "+86 138 0013 8000"})
    assert found.status_code == 200, found.json
    assert found.json["member"]["phone_masked"] == "138****8000"
    assert found.json["member"]["name"] == "王小明"
    assert found.json["card"]["state"] == "active"
    assert found.json["card"]["balances"]["stored_value_fen"] == 20000
    # Paid and bonus apart: the seed recharge of 200 yuan got no bonus.
    assert found.json["card"]["stored_value"] == {"paid_fen": 20000, "bonus_fen": 0}
    assert found.json["card"]["pin_required"] is False

    quote = client.post("/local/quote", json={"ref": world.card_number, "amount_fen": 10000})
    assert quote.status_code == 200, quote.json
    sold = client.post(
        "/local/checkout",
        json={
            "ref": world.card_number,
            "amount_fen": 10000,
            "pay_with": "cash",
            "sale_id": "sale-0001-abcdef",
        },
    )
    assert sold.status_code == 201, sold.json
    assert sold.json["charged_fen"] == quote.json["charged_fen"]
    assert sold.json["printed"] is True
    receipt = tcp_printer.wait_for(1)[0]
    assert "王小明".encode("gb18030") not in receipt  # the receipt shows no full name unasked
    assert b"test-counter-sale-0001-abcdef" in receipt
    assert ESC_P_DRAWER in receipt and receipt.rstrip(b"\x00").find(CUT) > 0

    txn = db.session.get(Transaction, sold.json["transaction_id"])
    assert txn is not None
    assert txn.actor == "staff:alice"
    assert txn.station == "test-counter"
    assert txn.idempotency_key.endswith(":test-counter-sale-0001-abcdef")
    db.session.rollback()  # SQLite: the test's read must not hold the central's writes up

    # The page sends the same sale again (a lost answer): the same transaction, no second one.
    again = client.post(
        "/local/checkout",
        json={
            "ref": world.card_number,
            "amount_fen": 10000,
            "pay_with": "cash",
            "sale_id": "sale-0001-abcdef",
        },
    )
    assert again.status_code == 201, again.json
    assert again.json["transaction_id"] == sold.json["transaction_id"]
    assert db.session.query(Transaction).filter_by(kind="checkout").count() == 1
    db.session.rollback()

    # Stored value: no drawer kick.
    sv = client.post(
        "/local/checkout",
        json={"ref": world.card_number, "amount_fen": 1000, "pay_with": "stored_value"},
    )
    assert sv.status_code == 201, sv.json
    receipts = tcp_printer.wait_for(3)
    assert ESC_P_DRAWER not in receipts[-1]
    assert client.post("/local/reprint", json={}).status_code == 200
    assert "REPRINT" in tcp_printer.wait_for(4)[-1].decode("gb18030")


def test_recharge_card_actions_refund_and_the_day(
    counter: tuple[Any, Any], world: World, tcp_printer: TcpPrinter
) -> None:
    _station, client = counter
    sign_in(client, "bob")
    bonus = client.post(
        "/local/recharge/quote", json={"ref": world.card_number, "amount_fen": 100000}
    )
    assert bonus.status_code == 200, bonus.json
    done = client.post("/local/recharge", json={"ref": world.card_number, "amount_fen": 100000})
    assert done.status_code == 201, done.json
    assert done.json["bonus_fen"] == bonus.json["bonus_fen"]
    sold = client.post(
        "/local/checkout", json={"ref": world.card_number, "amount_fen": 500, "pay_with": "cash"}
    )
    refund = client.post("/local/refund", json={"transaction_id": sold.json["transaction_id"]})
    assert refund.status_code == 201, refund.json
    frozen = client.post("/local/cards/freeze", json={"ref": world.card_number})
    assert frozen.status_code == 200 and frozen.json["card"]["state"] == "frozen"
    refused = client.post(
        "/local/checkout", json={"ref": world.card_number, "amount_fen": 500, "pay_with": "cash"}
    )
    assert refused.status_code == 409 and refused.json["error"]["code"] == "card_not_active"
    client.post("/local/cards/unfreeze", json={"ref": world.card_number})
    issued = client.post(
        "/local/issue",
        json={
            "member": world.card_number,
            "type": "stored_value",
            "medium_kind": "ic_uid",
            "medium_value": "04A1B2C3D4",
        },
    )
    assert issued.status_code == 201, issued.json
    by_uid = client.post("/local/lookup", json={"ref": "04A1B2C3D4"})
    assert by_uid.json["card"]["number"] == issued.json["card"]["number"]

    day = client.get("/local/day")
    assert day.status_code == 200, day.json
    rows = {r["actor"]: r for r in day.json["staff"]}
    assert rows["staff:bob"]["recharges_fen"] == 100000
    assert rows["staff:bob"]["refunds"] == 1
    printed = client.post("/local/day/print", json={})
    assert printed.status_code == 200 and printed.json["printed"] is True
    summary = tcp_printer.wait_for(4)[-1].decode("gb18030")
    assert "Cash expected in the drawer" in summary


def test_bad_input_is_a_clear_4xx(counter: tuple[Any, Any], world: World) -> None:
    _station, client = counter
    sign_in(client)
    cases = [
        ("/local/checkout", {"ref": world.card_number, "amount_fen": 1.5, "pay_with": "cash"}),
        ("/local/checkout", {"ref": world.card_number, "amount_fen": "100", "pay_with": "cash"}),
        ("/local/checkout", {"ref": world.card_number, "amount_fen": True, "pay_with": "cash"}),
        ("/local/checkout", {"ref": world.card_number, "amount_fen": 10**12, "pay_with": "cash"}),
        ("/local/checkout", {"ref": world.card_number, "amount_fen": 100, "pay_with": "gold"}),
        ("/local/checkout", {"ref": "a\u0000b", "amount_fen": 100, "pay_with": "cash"}),
        (
            "/local/checkout",
            {
                "ref": world.card_number,
                "amount_fen": 100,
                "pay_with": "cash",
                "sale_id": "../../etc",
            },
        ),
        ("/local/lookup", {"ref": ""}),
        ("/local/lookup", {"ref": "x" * 129}),
        ("/local/lookup", {"reff": "123"}),
        ("/local/refund", {"transaction_id": -1}),
        ("/local/issue", {"type": "stored_value", "medium_kind": "ic_uid"}),
        ("/local/day/print", {"date": "2026-02-30"}),
    ]
    for path, body in cases:
        answer = client.post(path, json=body)
        assert answer.status_code == 400, (path, body, answer.json)
        assert answer.json["error"]["code"] == "invalid_request"
    assert client.post("/local/lookup", data="ref=1").status_code == 415
    assert (
        client.post("/local/lookup", data="{", content_type="application/json").status_code == 400
    )
    assert client.post("/local/lookup", json=[1]).status_code == 400
    assert client.get("/local/day?date=yesterday").status_code == 400
    assert client.post("/local/cards/explode", json={"ref": "1"}).status_code == 404
    assert client.post("/local/lookup", json={"ref": "no-such-card"}).status_code == 404
    assert client.post("/local/refund", json={"transaction_id": 999999}).status_code == 404
    wrong = sign_in(client, "alice", "wrong-password")
    assert wrong.status_code == 401 and wrong.json["error"]["code"] == "sign_in_failed"
    assert db.session.query(Transaction).filter_by(kind="checkout").count() == 0
    db.session.rollback()


def test_idle_staff_are_signed_out(counter: tuple[Any, Any], world: World) -> None:
    station, client = counter
    now = [1000.0]
    station.clock = lambda: now[0]
    station.idle_s = 60
    sign_in(client)
    assert client.post("/local/lookup", json={"ref": world.card_number}).status_code == 200
    now[0] += 59
    assert client.get("/local/status").json["staff"]["username"] == "alice"
    assert client.post("/local/lookup", json={"ref": world.card_number}).status_code == 200
    now[0] += 61
    assert client.get("/local/status").json["staff"] is None
    out = client.post("/local/lookup", json={"ref": world.card_number})
    assert out.status_code == 401 and out.json["error"]["code"] == "signed_out_idle"


def test_status_lists_devices_with_what_to_do(counter: tuple[Any, Any]) -> None:
    _station, client = counter
    status = client.get("/local/status").json
    assert status["online"] is True and status["queued"] == 0
    devices = {d["device"]: d for d in status["devices"]}
    assert devices["printer"]["state"] == "ok"
    assert devices["card_reader"]["state"] == "off"
    assert devices["card_reader"]["advice"]


def test_the_page_is_served_in_three_languages(counter: tuple[Any, Any]) -> None:
    _station, client = counter
    assert "Staff sign-in" in client.get("/?lang=en").get_data(as_text=True)
    assert "收银员登录" in client.get("/?lang=zh-Hans").get_data(as_text=True)
    assert "收銀員登錄" in client.get("/?lang=zh-Hant").get_data(as_text=True)


def test_a_strangers_receipt_invites_to_join(
    counter: tuple[Any, Any], world: World, tcp_printer: TcpPrinter
) -> None:
    station, client = counter
    station.join_url = "https://laoyou.example.com/join?store=SH01"
    sign_in(client)
    assert client.post("/local/lookup", json={"ref": world.anonymous_card}).json["member"] is None
    visit = client.post(
        "/local/checkout", json={"ref": world.anonymous_card, "amount_fen": 0, "pay_with": "visits"}
    )
    assert visit.status_code == 201, visit.json
    receipt = tcp_printer.wait_for(1)[0]
    assert b"\x1d(k" in receipt  # the QR code
    assert b"https://laoyou.example.com/join?store=SH01" in receipt
    assert b"\x1bp" not in receipt  # a visit is no cash: the drawer stays shut
    # A member's receipt carries no invitation (WeChat is not configured here: no QR).
    client.post("/local/lookup", json={"ref": world.card_number})
    client.post(
        "/local/checkout", json={"ref": world.card_number, "amount_fen": 100, "pay_with": "cash"}
    )
    assert b"/join" not in tcp_printer.wait_for(2)[-1]


def test_the_lookup_shows_todays_promotions_and_the_quote_what_they_add(
    counter: tuple[Any, Any], world: World
) -> None:
    now = dt.datetime.now(dt.UTC)
    promotion = promotions.create_promotion(
        PromotionTerms(
            names={"zh-Hans": "双倍积分周", "en": "Double points week"},
            starts_at=now - dt.timedelta(hours=1),
            ends_at=now + dt.timedelta(days=2),
            multiplier_bp=20000,
        )
    )
    db.session.commit()
    _station, client = counter
    sign_in(client)
    found = client.post("/local/lookup", json={"ref": world.card_number})
    assert found.status_code == 200, found.json
    listed = found.json["member"]["promotions"]
    assert [(p["id"], p["name"], p["effects"]) for p in listed] == [
        (promotion.id, "Double points week", ["2× points"])
    ]
    quote = client.post("/local/quote", json={"ref": world.card_number, "amount_fen": 10000})
    assert quote.status_code == 200, quote.json
    assert [p["name"] for p in quote.json["promotions"]] == ["Double points week"]
    extra = quote.json["promotions"][0]["points"]
    assert extra > 0 and quote.json["points_earned"] == 2 * extra
    sold = client.post(
        "/local/checkout",
        json={"ref": world.card_number, "amount_fen": 10000, "pay_with": "cash"},
    )
    assert sold.status_code == 201, sold.json
    assert sold.json["points_earned"] == quote.json["points_earned"]
    db.session.rollback()


def test_a_mix_points_offset_and_stored_value_in_one_sale(
    counter: tuple[Any, Any], world: World, tcp_printer: TcpPrinter
) -> None:
    """The mix the central checkout offers: points pay part (``points_offset``), stored
    value the rest; both are on the receipt and both balances move by what they paid."""
    _station, client = counter
    sign_in(client)
    before = client.post("/local/lookup", json={"ref": world.card_number}).json["card"]
    assert before["balances"]["points"] >= 100
    quote = client.post(
        "/local/quote",
        json={"ref": world.card_number, "amount_fen": 5000, "points_offset": 100},
    ).json
    assert quote["points_offset_fen"] == 100
    sold = client.post(
        "/local/checkout",
        json={
            "ref": world.card_number,
            "amount_fen": 5000,
            "pay_with": "stored_value",
            "points_offset": 100,
        },
    )
    assert sold.status_code == 201, sold.json
    charged = sold.json["charged_fen"]
    assert charged == quote["charged_fen"] == 5000 - sold.json["discount_fen"] - 100
    after = sold.json["balances"]
    assert after["stored_value_fen"] == before["balances"]["stored_value_fen"] - charged
    assert after["points"] == before["balances"]["points"] - 100 + sold.json["points_earned"]
    receipt = tcp_printer.wait_for(1)[0]
    assert b"Stored value" in receipt and b"Points" in receipt
    assert f"{charged // 100}.{charged % 100:02d}".encode() in receipt
    assert b"\x1bp" not in receipt  # no cash: the drawer stays shut
    db.session.rollback()


def test_a_count_card_visit_of_two_items_uses_two_visits_and_the_receipt_says_so(
    counter: tuple[Any, Any], world: World, tcp_printer: TcpPrinter
) -> None:
    _station, client = counter
    sign_in(client)
    sold = client.post(
        "/local/checkout",
        json={
            "ref": world.anonymous_card,
            "amount_fen": 0,
            "pay_with": "visits",
            "items": [{"name": "Wash", "amount_fen": 0, "quantity": 2}],
        },
    )
    assert sold.status_code == 201, sold.json
    assert sold.json["balances"]["visits"] == 3  # 5 seeded, 2 used
    receipt = tcp_printer.wait_for(1)[0]
    assert b"2 visit(s)" in receipt and b"1 visit(s)" not in receipt
    db.session.rollback()
