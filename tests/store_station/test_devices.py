"""The counter's devices built from ``laoyou station``'s options, and their states."""

from __future__ import annotations

import queue
import subprocess
import sys
import time
from pathlib import Path

import pytest
from flask import Flask

from app.i18n import in_language
from app.store_station.counter.devices import DeviceOptions, Devices
from app.store_station.counter.events import DeviceChanged, Event, IncomingCall, Swiped
from app.store_station.counter.printer import PrinterError, PrinterOffline
from app.store_station.counter.readers import FakeCardReader
from app.store_station.counter.receipt import Payment, Receipt
from tests.store_station.conftest import Listener
from tests.store_station.test_serial_devices import Pty

SALE = Receipt(
    "checkout",
    "老友咖啡",
    "王小明",
    "2026-12-07 10:30",
    number="T1",
    amount_fen=1000,
    payments=(Payment("cash", 1000),),
)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (DeviceOptions(paper=57), "--paper must be 58 or 80"),
        (DeviceOptions(reader="usb"), "--reader must be pcsc or none"),
        (DeviceOptions(printer="lpt1"), "--printer"),
        (DeviceOptions(serial="/dev/ttyS0", display="/dev/ttyS0@19200"), "a port each"),
        (DeviceOptions(caller_id="/dev/tty\x00S1"), "--caller-id"),
    ],
)
def test_bad_options_are_refused_naming_the_option(options: DeviceOptions, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Devices(options)


def test_a_station_without_devices_says_what_each_option_would_add(station_app: Flask) -> None:
    devices = Devices(DeviceOptions(reader="none"))
    with station_app.app_context(), in_language("zh-Hant"):
        states = devices.as_json()
    assert [(s["device"], s["state"]) for s in states] == [
        ("printer", "off"),
        ("card_reader", "off"),
        ("serial", "off"),
        ("caller_id", "off"),
        ("display", "off"),
    ]
    assert states[0]["message"] == "未設定"
    assert states[0]["advice"] == "如需使用，請以 --printer 啟動收銀台。"
    assert states[3]["advice"] == "如需使用，請以 --caller-id 啟動收銀台。"
    with pytest.raises(PrinterError, match="--printer"):
        devices.print_receipt(SALE)
    assert devices.show_due(100) is False


def test_every_device_at_work(tmp_path: Path, printer_port: Listener, station_app: Flask) -> None:
    stripe, phone, pole = (Pty(tmp_path / name) for name in ("stripe", "cid", "pole"))
    reader = FakeCardReader()
    devices = Devices(
        DeviceOptions(
            printer=f"tcp://127.0.0.1:{printer_port.port}",
            paper=58,
            serial=str(stripe.link),
            caller_id=f"{phone.link}@1200",
            display=str(pole.link),
            receipts=tmp_path / "receipts.jsonl",
        ),
        card_reader=reader,
    )
    devices.start()
    try:
        came = {devices.events.get(timeout=5) for _ in range(2)}
        assert came == {DeviceChanged("serial", "ok"), DeviceChanged("caller_id", "ok")}
        reader.tap("04a1b2c3")
        stripe.send(b";6222020000123456=2512?\r\n")
        phone.send(b"NMBR = 13800138000\r\n")
        got: list[Event] = [devices.events.get(timeout=5) for _ in range(3)]
        assert got[0].as_dict() == {
            "kind": "card_inserted",
            "reader": FakeCardReader.name,
            "uid": "04A1B2C3",
            "atr": "3B8F8001804F0CA000000306030001000000006A",
        }
        assert set(got[1:]) == {
            Swiped("6222020000123456", "2025-12"),
            IncomingCall("13800138000"),
        }
        assert devices.show_due(1000, 500)
        assert pole.read(2).startswith(b"\x0c\x1b")
        pole.read(100, timeout_s=0.3)
        assert devices.clear_display()
        assert pole.read(1) == b"\x0c"
        with station_app.app_context(), in_language("en"):
            printed = devices.print_receipt(SALE)
            assert printer_port.wait() == printed
            states = devices.as_json()
        assert [s["state"] for s in states] == ["ok"] * 5
        assert states[0]["message"] == f"Ready (tcp://127.0.0.1:{printer_port.port})"
        assert states[3]["message"] == f"Ready ({phone.link}@1200)"
    finally:
        devices.stop()
        for pty in (stripe, phone, pole):
            pty.close()


def test_a_printer_switched_off_shows_as_missing_and_the_sale_is_kept(
    tmp_path: Path, station_app: Flask
) -> None:
    devices = Devices(
        DeviceOptions(printer="tcp://127.0.0.1:9", reader="none", receipts=tmp_path / "r.jsonl")
    )
    with station_app.app_context(), in_language("zh-Hans"):
        with pytest.raises(PrinterOffline):
            devices.print_receipt(SALE)
        printer = devices.statuses()[0]
    assert (printer.state, printer.code) == ("missing", "printer.unreachable")
    assert printer.message == "小票打印机 tcp://127.0.0.1:9 没有响应。"
    assert "重印" in printer.advice
    assert "T1" in (tmp_path / "r.jsonl").read_text()


def test_events_can_go_to_a_sink_of_the_station(tmp_path: Path) -> None:
    seen: queue.Queue[Event] = queue.Queue()
    reader = FakeCardReader()
    devices = Devices(DeviceOptions(), seen.put, card_reader=reader)
    devices.start()
    reader.tap("AA")
    reader.remove()
    devices.stop()
    assert [e.kind for e in seen.queue] == ["card_inserted", "card_removed"]
    assert devices.events.empty()


def test_the_counter_never_imports_the_central_service() -> None:
    """What runs on the counter PC reaches the service through its API only."""
    code = (
        "import pkgutil, importlib, sys\n"
        "import app.store_station.counter as c\n"
        "for m in pkgutil.walk_packages(c.__path__, c.__name__ + '.'):\n"
        "    importlib.import_module(m.name)\n"
        "central = sorted(n for n in sys.modules if n.startswith(('app.db', 'app.ledger',\n"
        "    'app.models', 'app.members', 'app.cards', 'app.api', 'app.auth', 'app.stores',\n"
        "    'sqlalchemy.orm', 'flask_sqlalchemy'))\n"
        "    or (n.startswith('app.') and n.endswith(('.services', '.models'))))\n"
        "print(len([n for n in sys.modules if n.startswith('app.store_station.counter.')]))\n"
        "print(central)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    count, central = done.stdout.splitlines()
    assert int(count) >= 7  # every module was imported
    assert central == "[]"


def test_a_slow_reader_thread_stops_promptly(tmp_path: Path) -> None:
    devices = Devices(DeviceOptions(reader="none", serial=str(tmp_path / "gone")))
    devices.start()
    started = time.monotonic()
    devices.stop()
    assert time.monotonic() - started < 2.5
