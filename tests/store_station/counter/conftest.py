"""The station against a real central service: a live server that can be stopped and
started again on its port, a TCP printer that keeps every receipt's bytes, the data.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

from app.auth.services import create_api_key, create_staff
from app.cards.services import enroll, issue_card, member_cards
from app.db import db
from app.ledger.operations import load_value, recharge
from app.ledger.rules.io import import_rules
from app.store_station.counter.client import CentralClient
from app.store_station.counter.devices import DeviceOptions, Devices
from app.store_station.counter.queue import OfflineQueue
from app.store_station.counter.station import Station, create_station_app
from app.stores.services import create_store, get_store

PASSWORD = "counter-password-1"
PHONE = "+8613800138000"
EXAMPLE_RULES = Path(__file__).parents[3] / "docs" / "rules.example.json"


class CentralServer:
    """The central app served by a thread on a fixed port; ``stop()`` and ``start()`` again."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._server = make_server("127.0.0.1", self.port, self.app, threaded=True)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            assert self._thread is not None
            self._thread.join()
            self._server = None


@dataclass
class TcpPrinter:
    """A receipt printer on 127.0.0.1: every connection's bytes, in order (empty probes dropped)."""

    port: int = 0
    received: list[bytes] = field(default_factory=list)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def wait_for(self, count: int, timeout_s: float = 5.0) -> list[bytes]:
        deadline = time.monotonic() + timeout_s
        with self.arrived:
            while len(self.received) < count and time.monotonic() < deadline:
                self.arrived.wait(timeout=0.05)
            return list(self.received)


@contextmanager
def running_printer() -> Iterator[TcpPrinter]:
    """A TCP receipt printer on 127.0.0.1 for the length of the block."""
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.1)
    printer = TcpPrinter(port=listener.getsockname()[1])
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(2)
                chunks = []
                while True:
                    try:
                        chunk = conn.recv(65536)
                    except OSError:
                        break
                    if not chunk:
                        break
                    chunks.append(chunk)
            data = b"".join(chunks)
            if data:
                with printer.arrived:
                    printer.received.append(data)
                    printer.arrived.notify_all()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield printer
    finally:
        stop.set()
        thread.join()
        listener.close()


@pytest.fixture
def tcp_printer() -> Iterator[TcpPrinter]:
    with running_printer() as printer:
        yield printer


@dataclass
class World:
    key: str
    card_number: str
    anonymous_card: str


def set_up_world(app: Flask) -> World:
    """Stores, rules, a cashier (alice), a manager (bob), a member with stored value."""
    for code in ("SH01", "BJ01"):
        create_store(code, f"Store {code}", "East")
    import_rules(json.loads(EXAMPLE_RULES.read_text()))
    create_staff("alice", PASSWORD, role="cashier", store_code="SH01", display_name="Alice")
    create_staff("bob", PASSWORD, role="store_manager", store_code="SH01", display_name="Bob")
    _key, secret = create_api_key(get_store("SH01"))
    member = enroll({"phone": PHONE, "home_store": "SH01", "name": "王小明"})
    card = member_cards(member)[0]
    recharge(card, get_store("SH01"), 20000, key="seed-recharge", actor="test")
    anonymous = issue_card("count", member=None, store=get_store("SH01"))
    load_value(anonymous, 0, visits=5, idempotency_key="seed-visits", actor="test")
    db.session.commit()
    return World(key=secret, card_number=card.number, anonymous_card=anonymous.number)


@pytest.fixture
def central(live_app: Flask) -> Iterator[CentralServer]:
    server = CentralServer(live_app)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def world(live_app: Flask) -> World:
    return set_up_world(live_app)


def make_station(
    central: CentralServer, key: str, printer_port: int | None, queue_path: Path, **kw: Any
) -> Station:
    printer = f"tcp://127.0.0.1:{printer_port}" if printer_port else None
    devices = Devices(DeviceOptions(printer=printer, reader="none"))
    return Station(
        CentralClient(central.url, key, station="test-counter", timeout_s=3),
        OfflineQueue(queue_path, per_card=kw.pop("per_card", 3), per_shift=kw.pop("per_shift", 50)),
        devices,
        name="test-counter",
        **kw,
    )


@pytest.fixture
def counter(
    central: CentralServer, world: World, tcp_printer: TcpPrinter, tmp_path: Path
) -> Iterator[tuple[Station, Any]]:
    """A station (no background threads: the tests sync by hand) and its page's test client."""
    station = make_station(central, world.key, tcp_printer.port, tmp_path / "queue.sqlite3")
    client = create_station_app(station, language="en").test_client()
    try:
        yield station, client
    finally:
        station.queue.close()
        station.client.close()
