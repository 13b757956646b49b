"""The store station's cost over the REST API it stands on.

The central service runs in its own process (a threaded werkzeug server on a SQLite
file, or PostgreSQL with ``--postgres``); the station runs here with a TCP receipt
printer on 127.0.0.1. In the same run, in alternating slices of 20:

- **api**: ``POST /api/v1/checkout`` straight to the central service (with the staff
  token, as the station sends it);
- **station**: ``POST /local/checkout`` to the station, which checks out on the central
  service, prints, and answers; timed until the receipt's bytes are at the printer.

Then the offline queue: 1,000 cash sales queued and synced (``Station.sync_now``),
beside the same number posted straight with the same client. Ends with ``figure`` lines;
targets (issue 15): station p99 at most 1.5 × the API's; sync at least 0.5 × direct.

Run: ``.venv/bin/python bench/station.py [--checkouts 200] [--queued 1000] [--postgres]``.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PASSWORD = "bench-password-1"
PG_URL = os.environ.get(
    "BENCH_POSTGRES_URL",
    os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"),
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- the central service, in its own process --------------------------------------------


def serve_central(url: str, port: int, ready: str) -> None:
    """The central app with one store, its key, a cashier and a member; serves until killed."""
    import logging

    from sqlalchemy import text
    from werkzeug.serving import make_server

    from app import create_app
    from app.auth.services import create_api_key, create_staff
    from app.cards.services import enroll, member_cards
    from app.db import Base, db, make_engine
    from app.models import import_all
    from app.stores.services import create_store

    import_all()
    engine = make_engine(url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS bench_station CASCADE"))
            conn.execute(text("CREATE SCHEMA bench_station"))
        engine.dispose()
        url = url + ("&" if "?" in url else "?") + "options=-csearch_path%3Dbench_station"
        engine = make_engine(url)
    Base.metadata.create_all(engine)
    app = create_app(
        {
            "LAOYOU_ENV": "testing",
            "SECRET_KEY": "bench-secret-key-that-is-long-enough-0",
            "DATABASE_URL": url,
            "DATABASE_ENGINE": engine,
            "ARGON2_TIME_COST": 1,
            "ARGON2_MEMORY_KIB": 8,
        }
    )
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    with app.app_context():
        store = create_store("SH01", "Bench store", "East")
        create_staff("cashier", PASSWORD, role="cashier", store_code="SH01")
        _key, secret = create_api_key(store)
        member = enroll({"phone": "+8613800138000", "home_store": "SH01"})
        card = member_cards(member)[0].number
        db.session.commit()
        db.session.remove()
    server = make_server("127.0.0.1", port, app, threaded=True)
    Path(ready).write_text(json.dumps({"key": secret, "card": card}))
    server.serve_forever()


# --- the printer ------------------------------------------------------------------------


class Printer:
    """A TCP printer counting the receipts (non-empty connections) it got."""

    def __init__(self) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.count = 0
        self.cond = threading.Condition()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            conn, _ = self.listener.accept()
            with conn:
                got = b""
                while chunk := conn.recv(65536):
                    got += chunk
            if got:
                with self.cond:
                    self.count += 1
                    self.cond.notify_all()

    def wait_for(self, count: int) -> None:
        with self.cond:
            while self.count < count:
                self.cond.wait(timeout=5)


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkouts", type=int, default=200)
    parser.add_argument("--queued", type=int, default=1000)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()

    import logging

    import requests
    from werkzeug.serving import make_server

    from app.store_station.counter.client import CentralClient
    from app.store_station.counter.devices import DeviceOptions, Devices
    from app.store_station.counter.queue import OfflineQueue
    from app.store_station.counter.station import Station, create_station_app

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    workdir = Path(tempfile.mkdtemp(prefix="bench-station-"))
    url = PG_URL if args.postgres else f"sqlite:///{workdir / 'central.sqlite3'}"
    port = _free_port()
    ready = workdir / "ready.json"
    central = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import bench.station as b; b.serve_central({url!r}, {port}, {str(ready)!r})",
        ],
        cwd=ROOT,
    )
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            if central.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the central service did not start")
            time.sleep(0.1)
        world = json.loads(ready.read_text())
        server_url = f"http://127.0.0.1:{port}"
        printer = Printer()
        station = Station(
            CentralClient(server_url, world["key"], station="bench"),
            OfflineQueue(workdir / "queue.sqlite3", per_card=10**6, per_shift=10**6),
            Devices(DeviceOptions(printer=f"tcp://127.0.0.1:{printer.port}", reader="none")),
            name="bench",
        )
        local = make_server("127.0.0.1", 0, create_station_app(station), threaded=True)
        threading.Thread(target=local.serve_forever, daemon=True).start()
        local_url = f"http://127.0.0.1:{local.server_port}"
        page = requests.Session()
        signed = page.post(
            local_url + "/local/signin", json={"username": "cashier", "password": PASSWORD}
        )
        signed.raise_for_status()
        token = station.session.token if station.session else None
        api = requests.Session()
        api.headers.update(
            {"Authorization": f"Bearer {world['key']}", "X-Laoyou-Staff": token or ""}
        )

        def direct() -> float:
            start = time.perf_counter()
            answer = api.post(
                server_url + "/api/v1/checkout",
                json={
                    "card": world["card"],
                    "store": "SH01",
                    "amount_fen": 1000,
                    "pay_with": "cash",
                    "station": "bench",
                },
                headers={"Idempotency-Key": uuid.uuid4().hex},
                timeout=10,
            )
            assert answer.status_code == 201, answer.text
            return time.perf_counter() - start

        printed = 0

        def through_station() -> float:
            nonlocal printed
            start = time.perf_counter()
            answer = page.post(
                local_url + "/local/checkout",
                json={"ref": world["card"], "amount_fen": 1000, "pay_with": "cash"},
                timeout=10,
            )
            assert answer.status_code == 201 and answer.json()["printed"], answer.text
            printed += 1
            printer.wait_for(printed)
            return time.perf_counter() - start

        for _ in range(10):  # warm both paths
            direct()
            through_station()
        times: dict[str, list[float]] = {"api": [], "station": []}
        while len(times["station"]) < args.checkouts:
            for _ in range(20):
                times["api"].append(direct())
            for _ in range(20):
                times["station"].append(through_station())
        for name, values in times.items():
            print(
                f"{name}: p50 {_pct(values, 50) * 1000:.1f} ms, p99 {_pct(values, 99) * 1000:.1f}"
                f" ms, mean {statistics.mean(values) * 1000:.1f} ms over {len(values)}"
            )

        # --- sync rate: the queue against posting straight ---------------------------------
        session = station.session
        assert session is not None
        body = {
            "card": world["card"],
            "store": "SH01",
            "amount_fen": 100,
            "pay_with": "cash",
            "station": "bench",
        }
        client = CentralClient(server_url, world["key"], station="bench")
        start = time.perf_counter()
        for _ in range(args.queued):
            client.checkout(body, key=uuid.uuid4().hex, staff_token=session.token)
        direct_rate = args.queued / (time.perf_counter() - start)
        for n in range(args.queued):
            station.queue.add(
                key=f"bench-q-{n}-{uuid.uuid4().hex[:8]}",
                card_ref=world["card"],
                shift=session.shift,
                staff=session.username,
                staff_token=session.token,
                body=body,
            )
        start = time.perf_counter()
        report = station.sync_now()
        sync_rate = report["sent"] / (time.perf_counter() - start)
        assert report["sent"] == args.queued and station.queue.count_pending() == 0, report
        print(f"sync: {sync_rate:.0f} sales/s; direct {direct_rate:.0f} sales/s")

        api_p99, station_p99 = _pct(times["api"], 99), _pct(times["station"], 99)
        print(f"figure station_api_p50 {_pct(times['api'], 50) * 1000:.1f} ms")
        print(f"figure station_api_p99 {api_p99 * 1000:.1f} ms")
        print(f"figure station_checkout_p50 {_pct(times['station'], 50) * 1000:.1f} ms")
        print(f"figure station_checkout_p99 {station_p99 * 1000:.1f} ms")
        print(f"figure station_sync_rate {sync_rate:.0f} sales/s")
        print(f"figure station_direct_rate {direct_rate:.0f} sales/s")
        print(f"figure station_p99_vs_api {station_p99 / api_p99:.2f} ratio")
        print(f"figure station_sync_vs_direct {sync_rate / direct_rate:.2f} ratio")
        local.shutdown()
        station.queue.close()
    finally:
        central.terminate()
        central.wait(timeout=10)


if __name__ == "__main__":
    main()
