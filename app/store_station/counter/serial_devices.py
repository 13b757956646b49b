"""Serial devices: the card-swipe / barcode reader, the caller-ID unit, the customer display.

Each input port has a reader thread (``SerialPortReader``): it opens the port with
pyserial, cuts what arrives into lines (CR, LF or CR LF), parses each line with the
device's parser and puts the event on the station's queue. A port that disappears (the
USB adapter pulled out) is a ``DeviceChanged`` event and a ``missing`` status, never a
crash; the thread opens the port again as soon as it is back. A port is ``DEVICE`` or
``DEVICE@BAUD`` (9600 baud by default); pyserial's URLs (``socket://``, ``loop://``) work.

What the parsers read:

- ``--serial``: a magnetic-stripe reader sends track 2 (``;6222020000123456=2512?``: the
  card number, then the expiry as YYMM) and/or track 1 (``%B6222…^NAME^2512…?``); a
  line that is neither is a barcode (the scanner's line). A reader that sends both
  tracks on one line gives one swipe.
- ``--caller-id``: the modem-style caller-ID report, ``RING`` / ``DATE = 1207`` /
  ``TIME = 1030`` / ``NMBR = 13800138000`` (``NMBR=…`` too), and units that send the bare
  number on a line.
- ``--display``: the CD5220 pole-display protocol most 2×20 customer displays speak (or
  emulate): ``CLR`` (0x0C) clears, ``ESC Q A text CR`` writes the upper line and
  ``ESC Q B text CR`` the lower one; ASCII only.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from typing import Any

from app.money import yuan
from app.store_station.counter import status as st
from app.store_station.counter.events import (
    DeviceChanged,
    Event,
    EventSink,
    IncomingCall,
    Scanned,
    Swiped,
    Unreadable,
)

log = logging.getLogger("laoyou.station.serial")

#: A line longer than this is noise (a stuck key, a wrong baud rate), not a reading.
MAX_LINE = 256
DEFAULT_BAUD = 9600

_TRACK2_BARE = re.compile(r"(\d{12,19})=(\d{4})\d*")
_TRACK1 = re.compile(r"%B(\d{6,19})\^([^\^]{0,26})\^(\d{4})?[^?]*\?.?")
_NUMBER = re.compile(r"\+?\d{3,20}")


class LineSplitter:
    """Bytes in, complete lines out; a partial line waits for the rest of it."""

    def __init__(self, limit: int = MAX_LINE) -> None:
        self._buffer = bytearray()
        self._limit = limit
        self._overflow = False

    def feed(self, data: bytes) -> list[bytes | None]:
        """The lines ``data`` completed; ``None`` stands for a line too long to be one."""
        lines: list[bytes | None] = []
        for byte in data:
            if byte in (0x0A, 0x0D):
                if self._overflow:
                    lines.append(None)
                elif self._buffer:
                    lines.append(bytes(self._buffer))
                self._buffer.clear()
                self._overflow = False
            elif not self._overflow:
                self._buffer.append(byte)
                if len(self._buffer) > self._limit:
                    self._buffer.clear()
                    self._overflow = True
        return lines


def _printable(raw: bytes) -> str | None:
    """The line as text, or ``None`` when it holds a control byte or non-ASCII (noise)."""
    text = raw.strip(b" \t\x00").decode("ascii", errors="replace")
    if any(not (" " <= c <= "~") for c in text):
        return None
    return text


def _expiry(yymm: str | None) -> str | None:
    if not yymm or not 1 <= int(yymm[2:]) <= 12:
        return None
    return f"20{yymm[:2]}-{yymm[2:]}"


def parse_swipe(line: str) -> Swiped | None:
    """A magnetic-stripe reading (track 2 preferred, else track 1), or ``None``."""
    for match in re.finditer(r";[^?]*\?", line):
        track = match.group(0)
        found = re.fullmatch(r";(\d{6,19})(?:=(\d{4})?[\d=]*)?\?", track)
        if found:
            name = None
            one = _TRACK1.search(line)
            if one and one.group(1) == found.group(1):
                name = one.group(2).strip() or None
            return Swiped(found.group(1), _expiry(found.group(2)), name, track=2)
    bare = _TRACK2_BARE.fullmatch(line)
    if bare:
        return Swiped(bare.group(1), _expiry(bare.group(2)), track=2)
    one = _TRACK1.search(line)
    if one:
        return Swiped(one.group(1), _expiry(one.group(3)), one.group(2).strip() or None, track=1)
    return None


def parse_reader_line(line: str) -> Event | None:
    """``--serial``: a swipe, else a barcode; a broken track is unreadable, not a barcode."""
    swipe = parse_swipe(line)
    if swipe is not None:
        return swipe
    if line[:1] in (";", "%") or line.endswith("?"):
        return Unreadable("serial", "a bad swipe: swipe the card again")
    return Scanned(line)


class CallerIdParser:
    """``--caller-id``: remembers DATE and TIME until the call's NMBR line comes."""

    def __init__(self) -> None:
        self._date: str | None = None
        self._time: str | None = None

    def __call__(self, line: str) -> Event | None:
        key, sep, value = line.partition("=")
        key, value = key.strip().upper(), value.strip()
        if not sep:
            if key == "RING":
                return None
            if _NUMBER.fullmatch(key):
                return self._call(key)
            return Unreadable("caller_id", "not a caller-ID line")
        if key == "DATE" and value.isdigit():
            self._date = value
        elif key == "TIME" and value.isdigit():
            self._time = value
        elif key in ("NMBR", "DDN_NMBR") and _NUMBER.fullmatch(value):
            return self._call(value)
        # Anything else ("NMBR = O", out of area; "P", private; NAME = …) finds nobody.
        return None

    def _call(self, number: str) -> IncomingCall:
        event = IncomingCall(number, self._date, self._time)
        self._date = self._time = None
        return event


LineParser = Callable[[str], Event | None]


def split_port(spec: str) -> tuple[str, int]:
    """``/dev/ttyUSB0@19200`` → (``/dev/ttyUSB0``, 19200); the baud rate defaults to 9600."""
    if "\x00" in spec or not spec.strip():
        raise ValueError(f"not a serial port: {spec!r}")
    device, at, baud = spec.rpartition("@")
    if at and baud.isdigit() and 50 <= int(baud) <= 4_000_000 and "://" not in baud:
        return device, int(baud)
    return spec, DEFAULT_BAUD


def _open_port(url: str, baudrate: int, timeout: float) -> Any:
    import serial

    return serial.serial_for_url(url, baudrate=baudrate, timeout=timeout)


class SerialPortReader:
    """A thread per input port: open, read lines, parse, put events; reopen when it is back."""

    def __init__(
        self,
        device: str,
        spec: str,
        parser: LineParser,
        sink: EventSink,
        *,
        retry_s: float = 1.0,
        opener: Callable[[str, int, float], Any] = _open_port,
    ) -> None:
        self.device = device  #: "serial" or "caller_id"
        self.spec = spec
        self.port_name, self.baudrate = split_port(spec)
        self.parser, self.sink = parser, sink
        self.retry_s = retry_s
        self._opener = opener
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.state = ""  # unknown until the first try: its outcome is always announced
        self.detail = "not opened yet"

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name=f"station-{self.device}", daemon=True
        )
        self._thread.start()

    def stop(self, timeout_s: float = 2.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def status(self) -> st.DeviceStatus:
        if self.state == st.OK:
            return st.status(self.device, st.OK, "serial.ready", self.spec)
        return st.status(self.device, st.MISSING, "serial.missing", self.spec, self.detail)

    def _set(self, state: str, detail: str) -> None:
        changed = state != self.state
        self.state, self.detail = state, detail
        if changed:
            log.info("%s on %s: %s %s", self.device, self.spec, state, detail)
            self.sink(DeviceChanged(self.device, state, detail))

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                port = self._opener(self.port_name, self.baudrate, 0.2)
            except Exception as exc:  # SerialException, OSError, a bad URL: all "missing"
                self._set(st.MISSING, f"{type(exc).__name__}: {exc}")
                self._stop.wait(self.retry_s)
                continue
            self._set(st.OK, "")
            try:
                self._read(port)
            except Exception as exc:  # the port went away under us
                self._set(st.MISSING, f"{type(exc).__name__}: {exc}")
            finally:
                try:
                    port.close()
                except Exception:  # closing a vanished port may fail too; nothing to do
                    log.debug("closing %s failed", self.spec, exc_info=True)
            self._stop.wait(self.retry_s)

    def _read(self, port: Any) -> None:
        splitter = LineSplitter()
        while not self._stop.is_set():
            data = port.read(max(1, port.in_waiting))
            for raw in splitter.feed(data):
                text = None if raw is None else _printable(raw)
                if text is None:
                    self.sink(Unreadable(self.device, "line noise (check the baud rate)"))
                    continue
                if not text:
                    continue
                event = self.parser(text)
                if event is not None:
                    self.sink(event)


class CustomerDisplay:
    """A 2×20 pole display (CD5220 commands): the amount due and the balance after."""

    CLEAR = b"\x0c"
    UPPER = b"\x1bQA"
    LOWER = b"\x1bQB"

    def __init__(
        self,
        spec: str,
        *,
        columns: int = 20,
        opener: Callable[[str, int, float], Any] = _open_port,
    ) -> None:
        self.spec = spec
        self.port_name, self.baudrate = split_port(spec)
        self.columns = columns
        self._opener = opener
        self._port: Any = None
        self._lock = threading.Lock()
        self.state, self.detail = st.MISSING, "not opened yet"

    @staticmethod
    def frame(upper: str, lower: str, columns: int = 20) -> bytes:
        """The bytes that show two lines (ASCII, cut to the display's width)."""

        def line(text: str) -> bytes:
            return text.encode("ascii", errors="replace")[:columns] + b"\r"

        return (
            CustomerDisplay.CLEAR
            + CustomerDisplay.UPPER
            + line(upper)
            + (CustomerDisplay.LOWER + line(lower))
        )

    def _pair(self, label: str, fen: int) -> str:
        value = yuan(fen)
        return label + value.rjust(self.columns - len(label))

    def show_due(self, due_fen: int, balance_after_fen: int | None = None) -> bool:
        """``TOTAL 88.00`` above, ``BALANCE 120.80`` below (when paid from stored value)."""
        lower = "" if balance_after_fen is None else self._pair("BALANCE", balance_after_fen)
        return self.write(self.frame(self._pair("TOTAL", due_fen), lower, self.columns))

    def clear(self) -> bool:
        return self.write(self.CLEAR)

    def write(self, data: bytes) -> bool:
        """Send ``data``; ``False`` (and a ``missing`` status) when the display is not there.

        A display is a courtesy to the member: its failure never stops a checkout.
        """
        with self._lock:
            for attempt in (1, 2):  # a port that went away and came back: reopen once
                try:
                    if self._port is None:
                        self._port = self._opener(self.port_name, self.baudrate, 1.0)
                    self._port.write(data)
                    self._port.flush()
                    self.state, self.detail = st.OK, ""
                    return True
                except Exception as exc:  # unplugged, or never there
                    self.state, self.detail = st.MISSING, f"{type(exc).__name__}: {exc}"
                    self._close()
                    if attempt == 2:
                        log.info("customer display %s: %s", self.spec, self.detail)
            return False

    def _close(self) -> None:
        if self._port is not None:
            try:
                self._port.close()
            except Exception:  # already gone
                log.debug("closing %s failed", self.spec, exc_info=True)
            self._port = None

    def status(self) -> st.DeviceStatus:
        """Opens the port when it is not open, so an unplugged display shows before a sale."""
        with self._lock:
            if self._port is None:
                try:
                    self._port = self._opener(self.port_name, self.baudrate, 1.0)
                    self.state, self.detail = st.OK, ""
                except Exception as exc:  # not there: say so
                    self.state, self.detail = st.MISSING, f"{type(exc).__name__}: {exc}"
        if self.state == st.OK:
            return st.status("display", st.OK, "serial.ready", self.spec)
        return st.status("display", st.MISSING, "serial.missing", self.spec, self.detail)

    def close(self) -> None:
        with self._lock:
            self._close()
