"""Serial devices through pty pairs: a simulated device writes real bytes on the other end."""

from __future__ import annotations

import os
import queue
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from app.i18n import in_language
from app.store_station.counter.events import (
    DeviceChanged,
    Event,
    IncomingCall,
    Scanned,
    Swiped,
    Unreadable,
)
from app.store_station.counter.serial_devices import (
    CallerIdParser,
    CustomerDisplay,
    LineSplitter,
    SerialPortReader,
    parse_reader_line,
    parse_swipe,
    split_port,
)

# --- the parsers ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "swiped"),
    [
        (";6222020000123456=2512?", Swiped("6222020000123456", "2025-12")),
        (";6222020000123456=25121010000000000000?", Swiped("6222020000123456", "2025-12")),
        (";6222020000123456=2512?7", Swiped("6222020000123456", "2025-12")),  # with its LRC
        ("6222020000123456=2512101", Swiped("6222020000123456", "2025-12")),  # no sentinels
        (";0012345678?", Swiped("0012345678", None)),  # a shop's own card: a number only
        (";6222020000123456=2513?", Swiped("6222020000123456", None)),  # month 13: no expiry
        (
            "%B6222020000123456^ZHANG/SAN^2512101?;6222020000123456=2512101?",
            Swiped("6222020000123456", "2025-12", "ZHANG/SAN"),
        ),
        (
            "%B6222020000123456^ZHANG/SAN^2512101?",
            Swiped("6222020000123456", "2025-12", "ZHANG/SAN", track=1),
        ),
    ],
)
def test_magnetic_stripe_tracks(line: str, swiped: Swiped) -> None:
    assert parse_swipe(line) == swiped


def test_a_line_that_is_no_track_is_a_barcode_and_a_broken_track_is_unreadable() -> None:
    assert parse_reader_line("6901234567892") == Scanned("6901234567892")
    assert parse_reader_line("LY:ecard:9f86d081") == Scanned("LY:ecard:9f86d081")
    assert isinstance(parse_reader_line(";62220200001234X6=2512?"), Unreadable)
    assert isinstance(parse_reader_line("%BROKEN"), Unreadable)


def test_caller_id_lines() -> None:
    parse = CallerIdParser()
    assert parse("RING") is None
    assert parse("DATE = 1207") is None
    assert parse("TIME = 1030") is None
    assert parse("NMBR = 13800138000") == IncomingCall("13800138000", "1207", "1030")
    assert parse("NMBR=+8613800138000") == IncomingCall("+8613800138000")  # date not kept
    assert parse("NMBR = O") is None  # out of area: nobody to find
    assert parse("NMBR = P") is None  # private
    assert parse("NAME = ZHANG SAN") is None
    assert parse("02161234567") == IncomingCall("02161234567")  # a unit sending the number
    assert isinstance(parse("garbage!"), Unreadable)


def test_lines_are_cut_at_cr_lf_and_crlf_and_a_partial_line_waits() -> None:
    splitter = LineSplitter(limit=16)
    assert splitter.feed(b"ab") == []
    assert splitter.feed(b"c\r\nde\rf") == [b"abc", b"de"]
    assert splitter.feed(b"\n\n") == [b"f"]
    assert splitter.feed(b"x" * 40 + b"\nok\n") == [None, b"ok"]  # too long: one bad line


def test_port_specs() -> None:
    assert split_port("/dev/ttyUSB0") == ("/dev/ttyUSB0", 9600)
    assert split_port("/dev/ttyUSB0@19200") == ("/dev/ttyUSB0", 19200)
    assert split_port("socket://127.0.0.1:7000") == ("socket://127.0.0.1:7000", 9600)
    for bad in ("", "  ", "/dev/tty\x00S0"):
        with pytest.raises(ValueError):
            split_port(bad)


# --- real bytes through pty pairs ----------------------------------------------------


class Pty:
    """A pty pair whose slave is reached through a symlink, as /dev/serial/by-id/… is."""

    def __init__(self, link: Path) -> None:
        self.link = link
        self.master = -1
        self.plug()

    def plug(self) -> None:
        self.master, slave = os.openpty()
        target = os.ttyname(slave)
        os.close(slave)
        self.link.unlink(missing_ok=True)
        self.link.symlink_to(target)

    def unplug(self) -> None:
        os.close(self.master)
        self.master = -1
        self.link.unlink()

    def send(self, data: bytes) -> None:
        os.write(self.master, data)

    def read(self, size: int, timeout_s: float = 5.0) -> bytes:
        os.set_blocking(self.master, False)
        data = bytearray()
        deadline = time.monotonic() + timeout_s
        while len(data) < size and time.monotonic() < deadline:
            try:
                data.extend(os.read(self.master, size - len(data)))
            except BlockingIOError:
                time.sleep(0.01)
        return bytes(data)

    def close(self) -> None:
        if self.master >= 0:
            os.close(self.master)


@pytest.fixture
def pty(tmp_path: Path) -> Iterator[Pty]:
    pair = Pty(tmp_path / "ttyStation")
    yield pair
    pair.close()


def wait_for(events: queue.Queue[Event], kind: type[Event], timeout_s: float = 5) -> Event:
    """The next event of ``kind`` (other kinds before it are dropped)."""
    deadline = time.monotonic() + timeout_s
    while True:
        event = events.get(timeout=max(0.01, deadline - time.monotonic()))
        if isinstance(event, kind):
            return event


def started(device: str, pty: Pty, parser: object) -> tuple[SerialPortReader, queue.Queue[Event]]:
    events: queue.Queue[Event] = queue.Queue()
    reader = SerialPortReader(device, str(pty.link), parser, events.put, retry_s=0.05)  # type: ignore[arg-type]
    reader.start()
    assert wait_for(events, DeviceChanged) == DeviceChanged(device, "ok", "")
    return reader, events


def test_a_swipe_a_scan_noise_and_a_partial_line_through_a_pty(pty: Pty) -> None:
    reader, events = started("serial", pty, parse_reader_line)
    try:
        pty.send(b";6222020000123456=2512?\r\n")
        pty.send(b"\x00\xff\xfe\x01garbage\r\n")  # line noise
        pty.send(b"6901234")  # a scan arriving in pieces
        time.sleep(0.3)
        pty.send(b"567892\r")
        pty.send(b";62220200\x0000123456=2512?\n")  # a NUL inside a track
        pty.send(b"\x00\r\n\r\n")  # a NUL alone on a line: nothing
        pty.send(b"%B6222020000123456^LI/SI^2601?\r\n")
        got = [events.get(timeout=5) for _ in range(5)]
    finally:
        reader.stop()
    assert got == [
        Swiped("6222020000123456", "2025-12"),
        Unreadable("serial", "line noise (check the baud rate)"),
        Scanned("6901234567892"),
        Unreadable("serial", "line noise (check the baud rate)"),
        Swiped("6222020000123456", "2026-01", "LI/SI", track=1),
    ]
    assert events.empty()


def test_a_caller_id_unit_pops_up_the_number(pty: Pty) -> None:
    reader, events = started("caller_id", pty, CallerIdParser())
    try:
        pty.send(b"RING\r\n\r\nDATE = 1207\r\nTIME = 1030\r\nNMBR = 13800138000\r\n")
        call = wait_for(events, IncomingCall)
    finally:
        reader.stop()
    assert call == IncomingCall("13800138000", "1207", "1030")


def test_a_port_that_disappears_is_missing_then_reopened(pty: Pty, station_app: Flask) -> None:
    reader, events = started("serial", pty, parse_reader_line)
    try:
        pty.unplug()  # the USB adapter pulled out: its device node goes away
        gone = wait_for(events, DeviceChanged)
        assert isinstance(gone, DeviceChanged) and gone.state == "missing"
        with station_app.app_context(), in_language("zh-Hans"):
            status = reader.status()
        assert (status.device, status.state, status.code) == ("serial", "missing", "serial.missing")
        assert str(pty.link) in status.message and "插" in status.advice
        time.sleep(0.2)  # it keeps trying, and keeps quiet about it
        assert all(not isinstance(e, DeviceChanged) for e in list(events.queue))
        pty.plug()  # plugged back in
        back = wait_for(events, DeviceChanged)
        assert isinstance(back, DeviceChanged) and back.state == "ok"
        pty.send(b"6901234567892\r\n")
        assert wait_for(events, Scanned) == Scanned("6901234567892")
        assert reader.status().state == "ok"
    finally:
        reader.stop()


def test_a_port_missing_at_start_is_reported_not_raised(tmp_path: Path) -> None:
    events: queue.Queue[Event] = queue.Queue()
    reader = SerialPortReader(
        "caller_id", str(tmp_path / "nothing"), CallerIdParser(), events.put, retry_s=0.05
    )
    reader.start()
    try:
        missing = wait_for(events, DeviceChanged)
    finally:
        reader.stop()
    assert isinstance(missing, DeviceChanged) and missing.state == "missing"
    assert "nothing" in missing.detail


def test_the_customer_display_shows_the_amount_due_and_the_balance_after(pty: Pty) -> None:
    display = CustomerDisplay(str(pty.link))
    assert display.show_due(8800, 12080)
    expected = (
        b"\x0c" + b"\x1bQA" + b"TOTAL          88.00\r" + b"\x1bQB" + b"BALANCE       120.80\r"
    )
    assert pty.read(len(expected)) == expected
    assert display.show_due(150000)  # paid in cash: no balance line
    shown = pty.read(100, timeout_s=0.5)
    assert shown == b"\x0c\x1bQATOTAL        1500.00\r\x1bQB\r"
    display.close()


def test_an_unplugged_display_never_stops_a_sale(pty: Pty, station_app: Flask) -> None:
    display = CustomerDisplay(str(pty.link))
    assert display.show_due(100)
    pty.unplug()
    assert display.show_due(200) is False
    with station_app.app_context(), in_language("en"):
        status = display.status()
    assert (status.device, status.state) == ("display", "missing")
    assert status.message == f"Nothing answers on {pty.link}."
    pty.plug()
    assert display.show_due(300)
    assert pty.read(100, timeout_s=0.5).startswith(b"\x0c\x1bQATOTAL")
    display.close()
