"""A station really killed mid-sync (SIGKILL of the ``laoyou station`` process) and started
again: the central ledger has each queued sale exactly once and the queue ends empty.

The sales are queued through the station's own API while the central service is away.
Then the central service comes back behind a hook that holds the k-th checkout request
at a chosen point, tells the test, and the test kills the station there:

- ``answered``: the central service posted the sale and is about to answer; the station
  dies before it reads the answer (so before it marks the sale sent). The restarted
  station sends it again: a replay, not a second sale.
- ``received``: the request reached the central service, which has not posted it yet;
  the station dies; the restarted station sends the sale again while the first request is
  still held, and the first request is released only after the restart's own posting.
  Posted once, whichever request comes first.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from app.db import db
from app.ledger.models import IdempotencyRecord, Transaction
from app.store_station.counter.queue import OfflineQueue
from app.store_station.counter.station import create_station_app
from tests.store_station.counter.conftest import PASSWORD, CentralServer, World, make_station

#: Sales queued offline, and which one's request the station dies on.
SALES = 8
KILLED_ON = 4

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class HoldCheckout:
    """WSGI middleware of the central app: holds the ``hold_at``-th ``POST /api/v1/checkout``
    before the app sees it (``received``) or after the app answered it (``answered``)."""

    def __init__(self, app: Flask, hold_at: int, where: str) -> None:
        self.app: WsgiApp = app
        self.hold_at = hold_at
        self.where = where
        self.calls = 0
        self.lock = threading.Lock()
        self.reached = threading.Event()
        self.release = threading.Event()
        self.done = threading.Event()  # the held request has finished in the central app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ["REQUEST_METHOD"] != "POST" or environ["PATH_INFO"] != "/api/v1/checkout":
            return self.app(environ, start_response)
        with self.lock:
            self.calls += 1
            held = self.calls == self.hold_at
        if not held:
            return self.app(environ, start_response)
        if self.where == "received":
            self.reached.set()
            assert self.release.wait(60), "the test never released the held request"
        # The whole request runs here, its commit included (Flask ends the request before
        # it returns the body).
        body = list(self.app(environ, start_response))
        self.done.set()
        if self.where == "answered":
            self.reached.set()
            assert self.release.wait(60), "the test never released the held request"
        return body


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _checkouts() -> list[tuple[str, int]]:
    """(key, amount) of every checkout in the central ledger, oldest first."""
    rows = db.session.execute(
        select(Transaction.idempotency_key, Transaction.amount_fen)
        .where(Transaction.kind == "checkout")
        .order_by(Transaction.id)
    ).all()
    db.session.rollback()  # SQLite: a read left open would hold the central's writes up
    return [(str(k), int(a)) for k, a in rows]


def _records() -> int:
    count = len(db.session.scalars(select(IdempotencyRecord.id)).all())
    db.session.rollback()
    return count


def _queue_states(path: Path) -> dict[str, str]:
    """The queue file as a new process would read it: key → state."""
    queue = OfflineQueue(path)
    try:
        rows = queue._conn.execute("SELECT idempotency_key, state FROM queued_sale").fetchall()
    finally:
        queue.close()
    return {str(r[0]): str(r[1]) for r in rows}


class StationProcess:
    """``laoyou station`` on the queue file: its background sync sends what is pending."""

    def __init__(self, server: str, key: str, queue: Path, log: Path) -> None:
        self.port = _free_port()
        env = {**os.environ, "LAOYOU_STATION_KEY": key}
        env.pop("DATABASE_URL", None)
        command = [
            str(Path(sys.executable).with_name("laoyou")),
            "station",
            "--server",
            server,
            "--port",
            str(self.port),
            "--reader",
            "none",
            "--name",
            "test-counter",
            "--queue",
            str(queue),
        ]
        self.log = log
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                command, env=env, cwd=queue.parent, stdout=out, stderr=subprocess.STDOUT
            )

    def status(self) -> dict[str, Any] | None:
        try:
            url = f"http://127.0.0.1:{self.port}/local/status"
            with urllib.request.urlopen(url, timeout=5) as answer:
                return dict(json.loads(answer.read()))
        except OSError:
            assert self.process.poll() is None, self.log.read_text(errors="replace")[-2000:]
            return None

    def kill(self) -> None:
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


@pytest.fixture
def stations(tmp_path: Path) -> Iterator[list[StationProcess]]:
    started: list[StationProcess] = []
    yield started
    for station in started:
        station.stop()


@pytest.mark.parametrize("where", ["answered", "received"])
def test_a_station_killed_mid_sync_and_restarted_loses_and_duplicates_nothing(
    live_app: Flask,
    central: CentralServer,
    world: World,
    tmp_path: Path,
    stations: list[StationProcess],
    where: str,
) -> None:
    queue_file = tmp_path / "queue.sqlite3"
    station = make_station(central, world.key, None, queue_file, per_card=SALES)
    client = create_station_app(station, language="en").test_client()
    signed = client.post("/local/signin", json={"username": "alice", "password": PASSWORD})
    assert signed.status_code == 200, signed.json
    central.stop()
    amounts = [100 * (n + 1) for n in range(SALES)]
    for amount in amounts:
        queued = client.post(
            "/local/checkout",
            json={"ref": world.card_number, "amount_fen": amount, "pay_with": "cash"},
        )
        assert queued.status_code == 202, queued.json
    station.queue.close()
    station.client.close()
    station.sync_client.close()
    keys = list(_queue_states(queue_file))
    assert len(keys) == SALES and _checkouts() == []

    hook = HoldCheckout(live_app, KILLED_ON, where)
    server = CentralServer(live_app)
    server.app = hook  # type: ignore[assignment]  # any WSGI app serves
    server.start()
    try:
        first = StationProcess(server.url, world.key, queue_file, tmp_path / "station-1.log")
        stations.append(first)
        # The station's own sync (every 2 s while sales are pending) reaches the k-th sale.
        assert hook.reached.wait(60), first.log.read_text(errors="replace")[-2000:]
        first.kill()
        posted = _checkouts()
        states = _queue_states(queue_file)
        sent = [k for k in keys if states[k] == "sent"]
        # The sales before the k-th were answered and marked; the k-th never was.
        assert len(sent) == KILLED_ON - 1
        assert states[keys[KILLED_ON - 1]] == "pending"
        assert len(posted) == (KILLED_ON if where == "answered" else KILLED_ON - 1)

        if where == "answered":
            hook.release.set()  # the answer goes to a dead socket
            assert hook.done.wait(30)
        second = StationProcess(server.url, world.key, queue_file, tmp_path / "station-2.log")
        stations.append(second)
        if where == "received":
            # The restart posts the sale itself; only then does the first request run.
            deadline = time.monotonic() + 60
            while len(_checkouts()) < KILLED_ON:
                assert time.monotonic() < deadline, second.log.read_text(errors="replace")
                time.sleep(0.1)
            hook.release.set()
            assert hook.done.wait(30)
        deadline = time.monotonic() + 60
        while True:
            status = second.status()
            if status is not None and status["queued"] == 0:
                break
            assert time.monotonic() < deadline, second.log.read_text(errors="replace")[-2000:]
            time.sleep(0.2)
        assert status["refused"] == []
    finally:
        hook.release.set()
        server.stop()

    posted = _checkouts()
    assert [amount for _, amount in posted] == amounts  # each sale once, in order
    assert sorted(k.rsplit(":", 1)[1] for k, _ in posted) == sorted(keys)
    assert set(_queue_states(queue_file).values()) == {"sent"}
    assert _records() == SALES  # one idempotency record a sale: the resend was a replay
