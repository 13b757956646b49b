"""Offline: the central service stopped mid-shift, sales queued, synced exactly once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from app.cards.services import change_state, resolve_card
from app.db import db
from app.ledger.models import Transaction
from app.store_station.counter.queue import OfflineQueue, QueueRefused
from app.store_station.counter.station import Station, create_station_app
from tests.store_station.counter.conftest import (
    PASSWORD,
    CentralServer,
    TcpPrinter,
    World,
    make_station,
)

DRAWER_KICK = b"\x1bp"


class Killed(BaseException):
    """The station process dying: nothing after it runs (not even ``except Exception``)."""


def sign_in(client: Any) -> None:
    answer = client.post("/local/signin", json={"username": "alice", "password": PASSWORD})
    assert answer.status_code == 200, answer.json


def sale(client: Any, ref: str, amount_fen: int, pay_with: str = "cash", **extra: Any) -> Any:
    return client.post(
        "/local/checkout",
        json={"ref": ref, "amount_fen": amount_fen, "pay_with": pay_with, **extra},
    )


def checkouts() -> list[tuple[str, str | None, int]]:
    """(key, actor, amount) of every checkout in the central ledger; the read ends at once."""
    rows = db.session.execute(
        select(Transaction.idempotency_key, Transaction.actor, Transaction.amount_fen)
        .where(Transaction.kind == "checkout")
        .order_by(Transaction.id)
    ).all()
    db.session.rollback()  # SQLite: a read left open would hold the central's writes up
    return [tuple(r) for r in rows]  # type: ignore[misc]


def test_offline_mid_shift_queues_the_safe_sales_refuses_the_rest_and_syncs_once(
    counter: tuple[Station, Any], central: CentralServer, world: World, tcp_printer: TcpPrinter
) -> None:
    station, client = counter
    sign_in(client)
    assert sale(client, world.card_number, 1000).status_code == 201
    central.stop()

    queued = sale(client, world.card_number, 2000, sale_id="offline-sale-0001")
    assert queued.status_code == 202, queued.json
    assert queued.json["queued"] is True and queued.json["printed"] is True
    receipt = tcp_printer.wait_for(2)[-1]
    assert DRAWER_KICK in receipt  # a cash sale opens the drawer offline too
    assert station.online is False
    visit = sale(client, world.anonymous_card, 0, "visits")
    assert visit.status_code == 202, visit.json

    for pay_with in ("stored_value", "points"):
        refused = sale(client, world.card_number, 500, pay_with)
        assert refused.status_code == 503, refused.json
        assert refused.json["error"]["code"] == "offline_not_allowed"
    offset = sale(client, world.card_number, 5000, "cash", points_offset=100)
    assert offset.json["error"]["code"] == "offline_not_allowed"
    recharge = client.post("/local/recharge", json={"ref": world.card_number, "amount_fen": 100})
    assert recharge.status_code == 503
    assert recharge.json["error"]["code"] == "offline_not_allowed"

    # The limit per card (3 by default): two more on this card, then no more.
    assert sale(client, world.card_number, 300).status_code == 202
    assert sale(client, world.card_number, 400).status_code == 202
    over = sale(client, world.card_number, 500)
    assert over.status_code == 503 and over.json["error"]["code"] == "offline_card_limit"
    # The page retrying a queued sale does not queue it twice.
    assert sale(client, world.card_number, 2000, sale_id="offline-sale-0001").status_code == 202
    status = client.get("/local/status").json
    assert status["online"] is False and status["queued"] == 4

    assert station.sync_now()["offline"] is True  # still away: nothing moves
    central.start()
    report = station.sync_now()
    assert report == {"sent": 4, "refused": 0, "offline": False}
    assert station.online is True
    assert station.sync_now()["sent"] == 0
    rows = checkouts()
    assert len(rows) == 5
    assert len({key for key, _, _ in rows}) == 5
    assert all(actor == "staff:alice" for _, actor, _ in rows)
    # Oldest first: the order the sales were made.
    assert [amount for _, _, amount in rows] == [1000, 2000, 0, 300, 400]
    assert rows[1][0].endswith(":test-counter-offline-sale-0001")
    assert client.get("/local/status").json["queued"] == 0


def test_what_the_service_refused_meanwhile_is_listed_with_the_reason(
    counter: tuple[Station, Any], central: CentralServer, world: World
) -> None:
    station, client = counter
    sign_in(client)
    central.stop()
    assert sale(client, world.card_number, 800).status_code == 202
    assert sale(client, world.anonymous_card, 0, "visits").status_code == 202
    # Meanwhile the member reports the card lost (at another counter, on the phone).
    change_state(resolve_card(world.card_number), "report-lost", actor="test")
    db.session.commit()
    central.start()
    assert station.sync_now() == {"sent": 1, "refused": 1, "offline": False}
    refused = client.get("/local/status").json["refused"]
    assert len(refused) == 1
    assert refused[0]["card"] == world.card_number
    assert refused[0]["amount_fen"] == 800
    assert refused[0]["code"] == "card_not_active"
    assert refused[0]["message"]
    assert [amount for _, _, amount in checkouts()] == [0]


def test_a_station_killed_mid_sync_loses_and_duplicates_nothing(
    counter: tuple[Station, Any],
    central: CentralServer,
    world: World,
    tcp_printer: TcpPrinter,
    tmp_path: Path,
) -> None:
    station, client = counter
    sign_in(client)
    central.stop()
    for amount in (100, 200):
        assert sale(client, world.card_number, amount).status_code == 202
    assert sale(client, world.anonymous_card, 0, "visits").status_code == 202
    central.start()

    answered: list[int] = []
    send = station._send_queued

    def killed_after_the_second_answer(queued: Any) -> dict[str, Any]:
        result = send(queued)  # the central service posted it and answered ...
        answered.append(queued.id)
        if len(answered) == 2:
            raise Killed()  # ... and the station died before marking it sent
        return result

    station._send_queued = killed_after_the_second_answer  # type: ignore[method-assign]
    with pytest.raises(Killed):
        station.sync_now()
    assert len(checkouts()) == 2
    station.queue.close()

    # The station starts again on the same queue file.
    again = make_station(central, world.key, tcp_printer.port, tmp_path / "queue.sqlite3")
    try:
        assert again.queue.count_pending() == 2  # the second was sent but never marked
        assert again.sync_now() == {"sent": 2, "refused": 0, "offline": False}
        rows = checkouts()
        assert [amount for _, _, amount in rows] == [100, 200, 0]
        assert len({key for key, _, _ in rows}) == 3
        status = create_station_app(again).test_client().get("/local/status").json
        assert status["queued"] == 0 and status["refused"] == []
    finally:
        again.queue.close()
        again.client.close()


def test_the_queue_refuses_what_spends_value_and_keeps_its_limits(tmp_path: Path) -> None:
    queue = OfflineQueue(tmp_path / "q.sqlite3", per_card=2, per_shift=3)
    try:

        def add(key: str, card: str, pay_with: str = "cash", shift: str = "s1") -> Any:
            body = {"card": card, "amount_fen": 100, "pay_with": pay_with}
            return queue.add(
                key=key, card_ref=card, shift=shift, staff="alice", staff_token=None, body=body
            )

        for pay_with in ("stored_value", "points"):
            with pytest.raises(QueueRefused) as refused:
                add("k-" + pay_with, "A", pay_with)
            assert refused.value.code == "offline_not_allowed"
        # A split tender spends stored value too.
        with pytest.raises(QueueRefused) as split:
            queue.add(
                key="k-split",
                card_ref="A",
                shift="s1",
                staff="alice",
                staff_token=None,
                body={"card": "A", "amount_fen": 100, "pay_with": "cash", "stored_value_fen": 50},
            )
        assert split.value.code == "offline_not_allowed"
        add("k1", "A")
        add("k2", "A")
        with pytest.raises(QueueRefused) as per_card:
            add("k3", "A")
        assert per_card.value.code == "offline_card_limit"
        add("k4", "B", "visits")
        with pytest.raises(QueueRefused) as per_shift:
            add("k5", "C")
        assert per_shift.value.code == "offline_shift_limit"
        add("k6", "C", shift="s2")  # the next shift starts again
        assert [s.idempotency_key for s in queue.pending()] == ["k1", "k2", "k4", "k6"]
    finally:
        queue.close()


def test_a_sale_queued_offline_is_posted_at_the_list_price_the_till_took(
    counter: tuple[Station, Any], central: CentralServer, world: World, tcp_printer: TcpPrinter
) -> None:
    """The till cannot ask the rules offline, so it takes the list price: the sale is sent as
    that, and the journal, the receipt and the drawer agree (no discount the member did not
    get at the counter appears in the books later)."""
    station, client = counter
    sign_in(client)
    online = sale(client, world.card_number, 10000)
    assert online.status_code == 201 and online.json["charged_fen"] < 10000  # the card's rate
    central.stop()
    queued = sale(client, world.card_number, 10000, cash_tendered_fen=10000)
    assert queued.status_code == 202, queued.json
    receipt = tcp_printer.wait_for(2)[-1]
    assert b"Offline sale at the list price" in receipt
    central.start()
    assert station.sync_now() == {"sent": 1, "refused": 0, "offline": False}
    rows = db.session.execute(
        select(Transaction.amount_fen, Transaction.discount_fen, Transaction.charged_fen)
        .where(Transaction.kind == "checkout")
        .order_by(Transaction.id)
    ).all()
    db.session.rollback()
    assert [tuple(r) for r in rows][-1] == (10000, 0, 10000)


def test_offline_says_whether_the_request_may_have_reached_the_service() -> None:
    """Refused connections never sent anything; a service that took the request and did not
    answer in time may have posted it (its resend must then be the same request)."""
    import socket

    from app.store_station.counter.client import CentralClient, Offline

    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    with pytest.raises(Offline) as refused:
        CentralClient(f"http://127.0.0.1:{port}", "k", timeout_s=1).post(
            "/checkout", {}, staff_token=None
        )
    assert refused.value.sent is False

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)  # the kernel takes the connection; nobody ever answers
    try:
        with pytest.raises(Offline) as timed_out:
            CentralClient(f"http://127.0.0.1:{silent.getsockname()[1]}", "k", timeout_s=0.3).post(
                "/checkout", {}, staff_token=None
            )
        assert timed_out.value.sent is True
    finally:
        silent.close()
