"""Split tender at the counter: stored value + cash, its receipt, the drawer, the day.

The member's card holds 200.00; the example rules take 2% off a 300.00 bill (294.00
charged): 200.00 from the card, 94.00 in cash, 100.00 handed over, 6.00 change.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from app.db import db
from app.ledger.models import Transaction
from tests.store_station.counter.conftest import PASSWORD, CentralServer, TcpPrinter, World

DRAWER_KICK = b"\x1bp"


def checkouts() -> int:
    count = db.session.scalar(select(func.count()).where(Transaction.kind == "checkout")) or 0
    db.session.rollback()  # SQLite: a read left open would hold the central's writes up
    return count


def paper(raw: bytes) -> str:
    return raw.decode("gb18030", errors="replace")


def test_stored_value_plus_cash_prints_both_parts_the_change_and_opens_the_drawer(
    counter: tuple[Any, Any], world: World, tcp_printer: TcpPrinter, central: CentralServer
) -> None:
    station, client = counter
    signed = client.post("/local/signin", json={"username": "alice", "password": PASSWORD})
    assert signed.status_code == 200, signed.json
    sale = {"ref": world.card_number, "amount_fen": 30000, "pay_with": "cash"}

    quote = client.post(
        "/local/quote",
        json={"ref": world.card_number, "amount_fen": 30000, "stored_value_fen": 20000},
    )
    assert quote.status_code == 200, quote.json
    assert quote.json["charged_fen"] == 29400
    assert quote.json["split"] == {"stored_value_fen": 20000, "cash_fen": 9400}

    # Bad input: refused before anything is posted or printed.
    for body, status, code in (
        ({**sale, "stored_value_fen": 20000, "cash_tendered_fen": 5000}, 400, "tendered_short"),
        ({**sale, "stored_value_fen": 20000, "pay_with": "stored_value"}, 400, "invalid_request"),
        ({**sale, "stored_value_fen": -5}, 400, "invalid_request"),
        ({**sale, "stored_value_fen": 1.5}, 400, "invalid_request"),
        ({**sale, "stored_value_fen": 29400}, 400, "split_mismatch"),
        ({**sale, "stored_value_fen": 25000}, 409, "insufficient_funds"),
        ({**sale, "pay_with": "visits", "cash_tendered_fen": 100}, 400, "invalid_request"),
    ):
        refused = client.post("/local/checkout", json=body)
        assert refused.status_code == status, (body, refused.json)
        assert refused.json["error"]["code"] == code, (body, refused.json)
    assert checkouts() == 0
    assert tcp_printer.received == []

    sold = client.post(
        "/local/checkout", json={**sale, "stored_value_fen": 20000, "cash_tendered_fen": 10000}
    )
    assert sold.status_code == 201, sold.json
    assert (sold.json["stored_value_fen"], sold.json["cash_fen"]) == (20000, 9400)
    assert sold.json["balances"]["stored_value_fen"] == 0
    assert sold.json["printed"] is True
    raw = tcp_printer.wait_for(1)[0]
    assert DRAWER_KICK in raw  # cash was taken
    text = paper(raw)
    for line in ("Stored value", "200.00", "Cash", "94.00", "Cash tendered", "100.00", "Change"):
        assert line in text, line
    assert "6.00" in text.split("Change", 1)[1].splitlines()[0]
    assert checkouts() == 1

    # A tenth back: 20.00 onto the card, 9.40 from the drawer.
    refund = client.post(
        "/local/refund", json={"transaction_id": sold.json["transaction_id"], "amount_fen": 2940}
    )
    assert refund.status_code == 201, refund.json
    assert (refund.json["stored_value_back_fen"], refund.json["cash_back_fen"]) == (2000, 940)
    raw = tcp_printer.wait_for(2)[-1]
    assert DRAWER_KICK in raw
    assert "20.00" in paper(raw) and "9.40" in paper(raw)

    day = client.get("/local/day")
    assert day.status_code == 200, day.json
    totals = day.json["totals"]
    # The seed recharge (200.00 paid in today) plus the sale's cash, less the cash refunded.
    assert totals["cash_expected_fen"] == 20000 + 9400 - 940
    assert totals["sales_by_pay_with_fen"] == {"stored_value": 20000, "cash": 9400}
    printed = client.post("/local/day/print", json={})
    assert printed.status_code == 200, printed.json
    summary = paper(tcp_printer.wait_for(3)[-1])
    assert "284.60" in summary.split("Cash expected in the drawer", 1)[1]

    # Offline a split spends stored value: refused like any stored-value payment.
    central.stop()
    offline = client.post("/local/checkout", json={**sale, "stored_value_fen": 1000})
    assert offline.status_code == 503, offline.json
    assert offline.json["error"]["code"] == "offline_not_allowed"
    with_cash = client.post(
        "/local/checkout", json={**sale, "stored_value_fen": 1000, "cash_tendered_fen": 29000}
    )
    assert with_cash.json["error"]["code"] == "offline_not_allowed", with_cash.json
    assert station.queue.count_pending() == 0
    # A plain cash sale offline still prints the change (no discount offline: 300.00 due).
    queued = client.post("/local/checkout", json={**sale, "cash_tendered_fen": 31000})
    assert queued.status_code == 202, queued.json
    assert "10.00" in paper(tcp_printer.wait_for(4)[-1]).split("Change", 1)[1]
