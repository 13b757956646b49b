"""The receipt printer: ESC/POS through python-escpos, chosen by a URL.

``tcp://HOST[:PORT]`` (a network printer, port 9100 by default), ``usb:VID:PID`` (hex,
e.g. ``usb:0416:5011``), ``serial:DEVICE`` (``serial:/dev/ttyUSB0``, 9600 baud) or
``file:PATH`` (appended to: a printer's device node such as ``/dev/usb/lp0``, or a plain
file for the demo).

A receipt is rendered first, whole, with escpos's ``Dummy`` printer; the bytes then go
to the printer in one write. A receipt is archived before it is sent, so a printer that
is off, out of paper or unplugged loses nothing: ``PrinterOffline`` says so and
``reprint()`` prints it again (marked as a reprint) once the printer is back.
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.store_station.counter import status as st
from app.store_station.counter.receipt import COLUMNS, Receipt, layout

log = logging.getLogger("laoyou.station.printer")

ESC, GS, FS = b"\x1b", b"\x1d", b"\x1c"
#: FS & : the Chinese character mode of Chinese printers (GB18030 / GBK two-byte codes).
CHINESE_MODE = FS + b"&"


class PrinterError(Exception):
    """The printer URL is wrong, or the printer could not print."""


class PrinterOffline(PrinterError):
    """The printer did not take the receipt; it is kept for ``reprint``."""

    def __init__(self, where: str, detail: str, number: str) -> None:
        super().__init__(f"the receipt printer at {where} did not print: {detail}")
        self.where, self.detail, self.number = where, detail, number


@dataclass(frozen=True)
class PrinterUrl:
    scheme: str  #: "tcp", "usb", "serial" or "file"
    target: str  #: host, device or path
    port: int = 9100
    vendor_id: int = 0
    product_id: int = 0

    def __str__(self) -> str:
        if self.scheme == "tcp":
            return f"tcp://{self.target}:{self.port}"
        if self.scheme == "usb":
            return f"usb:{self.vendor_id:04x}:{self.product_id:04x}"
        return f"{self.scheme}:{self.target}"


def parse_printer_url(url: str) -> PrinterUrl:
    """``--printer``'s value, checked; ``ValueError`` says what a good one looks like."""
    how = "tcp://HOST:PORT, usb:VID:PID, serial:DEVICE or file:PATH"
    if "\x00" in url:
        raise ValueError(f"--printer: a NUL byte in {url!r}; use {how}")
    if url.startswith("tcp://"):
        match = re.fullmatch(r"tcp://([A-Za-z0-9.\-]+|\[[0-9A-Fa-f:]+\])(?::(\d{1,5}))?/?", url)
        port = int(match.group(2) or 9100) if match else 0
        if not match or not 0 < port < 65536:
            raise ValueError(f"--printer: {url!r} is not tcp://HOST:PORT (port 1-65535)")
        return PrinterUrl("tcp", match.group(1).strip("[]"), port=port)
    if url.startswith("usb:"):
        match = re.fullmatch(r"usb:([0-9A-Fa-f]{1,4}):([0-9A-Fa-f]{1,4})", url)
        if not match:
            raise ValueError(f"--printer: {url!r} is not usb:VID:PID (hex, e.g. usb:0416:5011)")
        return PrinterUrl("usb", url[4:], vendor_id=int(match[1], 16), product_id=int(match[2], 16))
    for scheme in ("serial", "file"):
        if url.startswith(scheme + ":"):
            target = url[len(scheme) + 1 :]
            if not target:
                raise ValueError(f"--printer: {url!r} names no {scheme} device")
            return PrinterUrl(scheme, target)
    raise ValueError(f"--printer: {url!r} is not one of {how}")


def receipt_bytes(receipt: Receipt, paper: int = 80, *, reprint: bool = False) -> bytes:
    """The ESC/POS bytes of a receipt: init, Chinese mode, the lines in GB18030, the QR
    code, the drawer kick (only when cash was paid) and the cut."""
    from escpos.printer import Dummy

    printer = Dummy()
    printer.hw("INIT")
    printer._raw(CHINESE_MODE)
    if receipt.pays_cash and not reprint:
        printer.cashdraw(2)  # first, so the drawer opens while the paper prints
    laid_out = layout(receipt, paper, reprint=reprint)
    for line in laid_out.lines:
        printer.set(align=line.align, bold=line.bold)
        # GB18030 covers every Unicode character: nothing is lost to a '?'.
        printer._raw(line.text.encode("gb18030") + b"\n")
    printer.set(align="left", bold=False)
    if receipt.qr_payload:
        # escpos cannot centre a native QR code; ESC a 1 (centre) does.
        printer._raw(ESC + b"a\x01")
        printer.qr(receipt.qr_payload, native=True, size=6 if paper == 80 else 5)
        printer._raw(ESC + b"a\x00")
    printer.cut()
    return bytes(printer.output)


def _network_printer(host: str, port: int, timeout_s: float) -> Any:
    """escpos's ``Network``, except that a failed connect closes its socket (escpos drops
    it open, a ResourceWarning each time a switched-off printer is tried)."""
    from escpos.exceptions import DeviceNotFoundError
    from escpos.printer import Network

    class ClosingNetwork(Network):  # type: ignore[misc]
        def open(self, raise_not_found: bool = True) -> None:
            self.device = None
            try:
                connection = socket.create_connection((self.host, self.port), self.timeout)
            except OSError as exc:
                raise DeviceNotFoundError(f"Could not open socket for {self.host}:\n{exc}") from exc
            self.device = connection

    return ClosingNetwork(host, port=port, timeout=timeout_s)


class ReceiptArchive:
    """The last ``keep`` receipts, in memory and (with ``path``) in a JSON-lines file that
    survives a restart of the station; each remembers whether it printed."""

    def __init__(self, keep: int = 50, path: Path | None = None) -> None:
        self.keep, self.path = keep, path
        self._entries: deque[dict[str, Any]] = deque(maxlen=keep)
        self._lock = threading.Lock()
        if path is not None and path.exists():
            for row in path.read_text(encoding="utf-8").splitlines():
                try:
                    self._entries.append(json.loads(row))
                except ValueError:
                    log.warning("skipped a damaged line in the receipt archive %s", path)

    def add(self, receipt: Receipt) -> int:
        with self._lock:
            serial = (self._entries[-1]["serial"] + 1) if self._entries else 1
            self._entries.append({"serial": serial, "printed": False, "receipt": receipt.to_dict()})
            self._save()
            return serial

    def mark(self, serial: int, printed: bool) -> None:
        with self._lock:
            for entry in self._entries:
                if entry["serial"] == serial:
                    entry["printed"] = printed
            self._save()

    def last(self) -> tuple[int, Receipt, bool] | None:
        with self._lock:
            if not self._entries:
                return None
            entry = self._entries[-1]
            return entry["serial"], Receipt.from_dict(entry["receipt"]), entry["printed"]

    def unprinted(self) -> list[Receipt]:
        with self._lock:
            return [Receipt.from_dict(e["receipt"]) for e in self._entries if not e["printed"]]

    def _save(self) -> None:
        if self.path is None:
            return
        tmp = self.path.with_suffix(".tmp")
        body = "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in self._entries)
        tmp.write_text(body, encoding="utf-8")
        os.replace(tmp, self.path)


class ReceiptPrinter:
    """One configured printer: ``print_receipt``, ``reprint``, ``status``."""

    def __init__(
        self,
        url: str,
        paper: int = 80,
        archive: ReceiptArchive | None = None,
        timeout_s: float = 5.0,
        probe_every_s: float = 3.0,
    ) -> None:
        if paper not in COLUMNS:
            raise ValueError(f"--paper must be 58 or 80, not {paper!r}")
        self.url = parse_printer_url(url)
        self.paper = paper
        self.archive = archive or ReceiptArchive()
        self.timeout_s = timeout_s
        self.probe_every_s = probe_every_s
        self.last_error = ""
        self._lock = threading.Lock()
        self._probed: tuple[float, str] | None = None  #: (when, what the probe found)

    def print_receipt(self, receipt: Receipt) -> bytes:
        """Archive the receipt, then print it; ``PrinterOffline`` when it did not print."""
        serial = self.archive.add(receipt)
        return self._print(serial, receipt, reprint=False)

    def reprint(self) -> bytes:
        """Print the last receipt again, marked as a reprint (the drawer stays shut).

        A receipt that never printed prints as the original (and opens the drawer for
        cash, which it did not do the first time).
        """
        last = self.archive.last()
        if last is None:
            raise PrinterError("there is no receipt to reprint")
        serial, receipt, printed = last
        return self._print(serial, receipt, reprint=printed)

    def _print(self, serial: int, receipt: Receipt, *, reprint: bool) -> bytes:
        data = receipt_bytes(receipt, self.paper, reprint=reprint)
        with self._lock:
            try:
                self._send(data)
            except Exception as exc:  # every transport's failure is the same to the staff
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("receipt %s not printed on %s: %s", receipt.number, self.url, exc)
                self.archive.mark(serial, False)
                self._probed = None
                raise PrinterOffline(str(self.url), self.last_error, receipt.number) from exc
            self.last_error = ""
            self._probed = (time.monotonic(), "")
            self.archive.mark(serial, True)
        return data

    def _send(self, data: bytes) -> None:
        url = self.url
        if url.scheme == "file":
            with open(url.target, "ab") as device:
                device.write(data)
            return
        printer = self._escpos_printer()
        try:
            printer.open()
            printer._raw(data)
        finally:
            printer.close()

    def _escpos_printer(self) -> Any:
        url = self.url
        if url.scheme == "tcp":
            return _network_printer(url.target, url.port, self.timeout_s)
        if url.scheme == "usb":
            from escpos.printer import Usb

            return Usb(url.vendor_id, url.product_id, timeout=int(self.timeout_s * 1000))
        from escpos.printer import Serial

        return Serial(url.target, baudrate=9600, timeout=self.timeout_s)

    def probe(self) -> str:
        """Why the printer cannot be reached now, or ``""``: a cheap look, no paper used."""
        url = self.url
        try:
            if url.scheme == "tcp":
                with socket.create_connection((url.target, url.port), timeout=1.0):
                    pass
            elif url.scheme in ("serial", "file"):
                where = Path(url.target)
                exists = where.exists() if url.scheme == "serial" else where.parent.is_dir()
                if not exists:
                    return f"{url.target} does not exist"
            else:
                import usb.core

                if usb.core.find(idVendor=url.vendor_id, idProduct=url.product_id) is None:
                    return "no such USB device"
        except Exception as exc:  # a probe reports, it never raises
            return f"{type(exc).__name__}: {exc}"
        return ""

    def _problem(self) -> str:
        """The probe's finding, looked at most every ``probe_every_s`` (the page polls the
        status; a network printer serves one connection at a time) and never mid-print."""
        now = time.monotonic()
        if self._probed is not None and now - self._probed[0] < self.probe_every_s:
            return self._probed[1]
        if not self._lock.acquire(blocking=False):
            return self._probed[1] if self._probed else ""  # printing: it is there
        try:
            self._probed = (now, self.probe())
        finally:
            self._lock.release()
        return self._probed[1]

    def status(self) -> st.DeviceStatus:
        where = str(self.url)
        problem = self._problem()
        if problem:
            return st.status("printer", st.MISSING, "printer.unreachable", where, problem)
        if self.last_error:
            return st.status("printer", st.ERROR, "printer.failed", where, self.last_error)
        return st.status("printer", st.OK, "printer.ready", where)
