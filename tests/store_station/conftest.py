"""The counter's real parts for the tests: pcscd with vpcd, a printer port, pty pairs.

PC/SC: each pytest process runs its own pcscd (``pcscd -f``) with only the vpcd virtual
reader, on a free port, in a private mount namespace (``unshare -m``) whose
``/run/pcscd`` is a temporary directory: pyscard reaches it through
``PCSCLITE_CSOCK_NAME``, and no other pcscd (the system's, another worker's) is touched.
Without pcscd, vpcd or pyscard the tests skip with the reason, except with ``CI=true``,
where they fail (``make system-deps`` installs them).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from flask import Flask

from app import i18n

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
VPCD_DRIVER = Path("/usr/lib/pcsc/drivers/serial/libifdvpcd.so")
ARTEFACTS = Path(__file__).parent / "artefacts"


def need(reason: str) -> None:
    if IN_CI:
        pytest.fail(reason + " (CI=true: the station's hardware tests may not be skipped)")
    pytest.skip(reason)


def _free_port_pair() -> int:
    """A port P with P+1 free too: vpcd's two slots listen on both."""
    for _ in range(50):
        with socket.socket() as first:
            first.bind(("127.0.0.1", 0))
            port = first.getsockname()[1]
            if port >= 65535:
                continue
            with socket.socket() as second:
                try:
                    second.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
            return port
    raise RuntimeError("no two free TCP ports in a row")


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


@dataclass
class Pcscd:
    port: int  #: vpcd's first slot: VirtualCard(port=…) inserts a card there
    conf: Path
    run: Path
    log: Path
    reader: str = "Virtual PCD 00 00"

    def launch(self) -> None:
        """Start pcscd in the background of a shell that returns at once: pcscd is nobody's
        child here, and --auto-exit ends it a minute after its last client is gone."""
        inner = (
            f"mount --bind '{self.run}' /run/pcscd && "
            f"exec pcscd --foreground --auto-exit --config '{self.conf}'"
        )
        subprocess.run(
            ["sh", "-c", f'unshare --mount sh -c "{inner}" >>"{self.log}" 2>&1 &'],
            check=True,
            timeout=10,
        )
        deadline = time.monotonic() + 10
        while not ((self.run / "pcscd.comm").exists() and _listening(self.port)):
            if time.monotonic() > deadline:
                need(f"pcscd did not start: {self.log.read_text(errors='replace')[-500:]}")
            time.sleep(0.05)

    def restart(self) -> None:
        """Stop pcscd (as an upgrade or a crash would) and start it again."""
        pid = int((self.run / "pcscd.pid").read_bytes().strip(b"\0\n"))
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while (self.run / "pcscd.comm").exists() or _listening(self.port):
            assert time.monotonic() < deadline, "pcscd did not stop"
            time.sleep(0.05)
        self.launch()
        _hold_a_context()


_CONTEXT: list[object] = []


def _hold_a_context() -> None:
    """A context held for the whole session, so pcscd never sees itself idle meanwhile."""
    from smartcard.scard import SCARD_SCOPE_USER, SCardEstablishContext

    _CONTEXT.append(SCardEstablishContext(SCARD_SCOPE_USER))


@pytest.fixture(scope="session")
def pcscd(tmp_path_factory: pytest.TempPathFactory) -> Pcscd:
    if shutil.which("pcscd") is None or not VPCD_DRIVER.exists():
        need("pcscd or vsmartcard-vpcd is not installed (make system-deps installs them)")
    try:
        import smartcard  # noqa: F401
    except ImportError:
        need("pyscard is not installed (pip install -e '.[dev]' after make system-deps)")
    if shutil.which("unshare") is None or os.geteuid() != 0:
        need("a private pcscd needs root and unshare (util-linux)")
    base = tmp_path_factory.mktemp("pcscd")
    service = Pcscd(_free_port_pair(), base / "reader.conf.d", base / "run", base / "pcscd.log")
    service.conf.mkdir()
    service.run.mkdir()
    (service.conf / "vpcd").write_text(
        'FRIENDLYNAME "Virtual PCD"\n'
        f"DEVICENAME   /dev/null:0x{service.port:X}\n"
        f"LIBPATH      {VPCD_DRIVER}\n"
        f"CHANNELID    0x{service.port:X}\n"
    )
    Path("/run/pcscd").mkdir(parents=True, exist_ok=True)
    service.launch()
    # libpcsclite reads this once, at the first PC/SC call of the process.
    os.environ["PCSCLITE_CSOCK_NAME"] = str(service.run / "pcscd.comm")
    _hold_a_context()
    # pcscd is not stopped at the end of the session: pyscard's card monitor (a thread a
    # process) releases its context when the interpreter exits, and complains when pcscd
    # is gone by then. --auto-exit ends it a minute later.
    return service


@dataclass
class Listener:
    """A TCP "printer": everything each connection sent, once it closed."""

    port: int
    received: list[bytes] = field(default_factory=list)
    connections: int = 0
    arrived: threading.Event = field(default_factory=threading.Event)

    def wait(self, count: int = 1, timeout_s: float = 5.0) -> bytes:
        deadline = time.monotonic() + timeout_s
        while len(self.received) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"the printer got {len(self.received)} of {count} receipts")
            time.sleep(0.01)
        return self.received[count - 1]


def listen(port: int = 0) -> tuple[Listener, socket.socket]:
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", port))
    server.listen()
    listener = Listener(server.getsockname()[1])

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            listener.connections += 1
            with conn:
                data = bytearray()
                while chunk := conn.recv(65536):
                    data.extend(chunk)
            if data:  # a status probe connects and sends nothing
                listener.received.append(bytes(data))

    threading.Thread(target=serve, daemon=True).start()
    return listener, server


@pytest.fixture
def printer_port() -> Iterator[Listener]:
    """A network printer's port 9100, played by a listener on 127.0.0.1."""
    listener, server = listen()
    yield listener
    server.close()


@pytest.fixture
def station_app() -> Flask:
    """The little Flask app a station runs: only the languages (no database)."""
    app = Flask(__name__)
    app.config["DEFAULT_LANGUAGE"] = "zh-Hans"
    i18n.init_app(app)
    return app
