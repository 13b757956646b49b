"""``laoyou station`` as a process: it imports nothing of the central service and serves
the page and its API on 127.0.0.1 only."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.store_station.counter.conftest import PASSWORD, CentralServer, TcpPrinter, World

#: The central service's own parts: the counter reaches them only through /api/v1.
CENTRAL = ("db", "models", "ledger", "cards", "members", "auth", "api", "stores", "audit")


def test_the_counter_imports_none_of_the_central_service() -> None:
    code = (
        "import sys, json\n"
        "import app.store_station.counter.cli, app.store_station.counter.station\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    modules = json.loads(out.stdout)
    central = [
        m
        for m in modules
        if m.split(".")[0] == "app" and m.split(".")[1:2] in [[name] for name in CENTRAL]
    ]
    assert central == []
    assert "sqlalchemy.orm" not in modules
    assert "app.store_station.counter.queue" in modules  # the check itself looked


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _call(url: str, body: dict[str, object] | None = None) -> tuple[int, dict[str, object]]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url, data=data, headers={"Content-Type": "application/json"} if data else {}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_laoyou_station_serves_the_counter_on_localhost(
    central: CentralServer, world: World, tcp_printer: TcpPrinter, tmp_path: Path
) -> None:
    port = _free_port()
    laoyou = Path(sys.executable).with_name("laoyou")
    env = {**os.environ, "LAOYOU_STATION_KEY": world.key}
    env.pop("DATABASE_URL", None)
    process = subprocess.Popen(
        [
            str(laoyou),
            "station",
            "--server",
            central.url,
            "--port",
            str(port),
            "--printer",
            f"tcp://127.0.0.1:{tcp_printer.port}",
            "--paper",
            "58",
            "--reader",
            "none",
            "--queue",
            str(tmp_path / "queue.sqlite3"),
        ],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                status, body = _call(base + "/local/status")
                break
            except OSError:
                assert process.poll() is None, process.stdout.read()  # type: ignore[union-attr]
                assert time.monotonic() < deadline, "the station did not start"
                time.sleep(0.2)
        assert status == 200 and body["online"] is True
        status, body = _call(base + "/local/signin", {"username": "alice", "password": PASSWORD})
        assert status == 200, body
        status, body = _call(
            base + "/local/checkout",
            {"ref": world.card_number, "amount_fen": 1234, "pay_with": "cash"},
        )
        assert status == 201, body
        assert body["printed"] is True
        assert b"\x1dV" in tcp_printer.wait_for(1)[0]
        # Only 127.0.0.1 listens: another address of this machine is refused.
        addresses = {info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None)}
        for address in addresses - {"127.0.0.1", "::1"}:
            with socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET) as s:
                s.settimeout(1)
                assert s.connect_ex((address, port)) != 0
    finally:
        process.terminate()
        process.communicate(timeout=10)


def test_bad_options_are_refused_with_a_sentence(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from app.store_station.counter.cli import station_command

    runner = CliRunner()
    base = ["--server", "http://127.0.0.1:1", "--queue", str(tmp_path / "q.sqlite3")]
    bad_printer = runner.invoke(station_command, [*base, "--key", "k", "--printer", "lpt1"])
    assert bad_printer.exit_code == 2
    assert "tcp://HOST:PORT" in bad_printer.output
    no_key = runner.invoke(station_command, base, env={"LAOYOU_STATION_KEY": ""})
    assert no_key.exit_code == 2 and "--key" in no_key.output
    paper = runner.invoke(station_command, [*base, "--key", "k", "--paper", "72"])
    assert paper.exit_code == 2 and "58" in paper.output
