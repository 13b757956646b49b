"""Every device of a counter, built from ``laoyou station``'s options, and their states.

The options keep the names of issue 15 (``--printer``, ``--paper``, ``--reader``,
``--serial``, ``--caller-id``, ``--display``); ``DeviceOptions`` checks their values
(``ValueError`` with a sentence for the command line). ``Devices`` starts the reader
threads, prints, shows amounts on the customer display, and answers ``statuses()`` —
the ``devices`` of ``GET /local/status`` — in the request's language.
"""

from __future__ import annotations

import queue
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.store_station.counter import status as st
from app.store_station.counter.events import Event, EventSink
from app.store_station.counter.printer import (
    PrinterError,
    ReceiptArchive,
    ReceiptPrinter,
    parse_printer_url,
)
from app.store_station.counter.readers import (
    CardReader,
    NoCardReader,
    PcscCardReader,
)
from app.store_station.counter.receipt import COLUMNS, Receipt
from app.store_station.counter.serial_devices import (
    CallerIdParser,
    CustomerDisplay,
    SerialPortReader,
    parse_reader_line,
    split_port,
)

READERS = ("pcsc", "none")


@dataclass(frozen=True)
class DeviceOptions:
    """``laoyou station``'s device options; ``None`` is "there is none"."""

    printer: str | None = None  #: --printer tcp://HOST:PORT|usb:VID:PID|serial:DEVICE|file:PATH
    paper: int = 80  #: --paper 58|80
    reader: str = "pcsc"  #: --reader pcsc|none
    serial: str | None = None  #: --serial DEVICE[@BAUD]: the swipe / barcode reader
    caller_id: str | None = None  #: --caller-id DEVICE[@BAUD]
    display: str | None = None  #: --display DEVICE[@BAUD]: the customer display
    receipts: Path | None = None  #: where the last receipts are kept for reprint

    def check(self) -> DeviceOptions:
        """``self`` when every value is good; else ``ValueError`` naming the option."""
        if self.printer is not None:
            parse_printer_url(self.printer)
        if self.paper not in COLUMNS:
            raise ValueError(f"--paper must be 58 or 80 (mm), not {self.paper!r}")
        if self.reader not in READERS:
            raise ValueError(f"--reader must be pcsc or none, not {self.reader!r}")
        for option, value in (
            ("--serial", self.serial),
            ("--caller-id", self.caller_id),
            ("--display", self.display),
        ):
            if value is not None:
                try:
                    split_port(value)
                except ValueError as exc:
                    raise ValueError(f"{option}: {exc}") from exc
        ports = [p for p in (self.serial, self.caller_id, self.display) if p is not None]
        if len({split_port(p)[0] for p in ports}) != len(ports):
            raise ValueError("--serial, --caller-id and --display need a port each")
        return self


class Devices:
    """The counter's hardware. Events (cards, swipes, scans, calls, device changes) go to
    ``events`` (a queue the station page reads), or to the ``sink`` given."""

    def __init__(
        self,
        options: DeviceOptions,
        sink: EventSink | None = None,
        *,
        card_reader: CardReader | None = None,
    ) -> None:
        self.options = options.check()
        self.events: queue.Queue[Event] = queue.Queue()
        self.sink: EventSink = sink or self.events.put
        self.card_reader: CardReader = card_reader or (
            PcscCardReader() if options.reader == "pcsc" else NoCardReader()
        )
        self.printer = (
            ReceiptPrinter(options.printer, options.paper, ReceiptArchive(path=options.receipts))
            if options.printer
            else None
        )
        self.serial = (
            SerialPortReader("serial", options.serial, parse_reader_line, self.sink)
            if options.serial
            else None
        )
        self.caller_id = (
            SerialPortReader("caller_id", options.caller_id, CallerIdParser(), self.sink)
            if options.caller_id
            else None
        )
        self.display = CustomerDisplay(options.display) if options.display else None

    def start(self) -> None:
        self.card_reader.start(self.sink)
        for reader in (self.serial, self.caller_id):
            if reader is not None:
                reader.start()

    def stop(self) -> None:
        self.card_reader.stop()
        for reader in (self.serial, self.caller_id):
            if reader is not None:
                reader.stop()
        if self.display is not None:
            self.display.close()

    def print_receipt(self, receipt: Receipt) -> bytes:
        """Print (``PrinterOffline`` when it did not: the receipt waits for ``reprint``)."""
        if self.printer is None:
            raise PrinterError("no receipt printer is configured (--printer)")
        return self.printer.print_receipt(receipt)

    def reprint(self) -> bytes:
        if self.printer is None:
            raise PrinterError("no receipt printer is configured (--printer)")
        return self.printer.reprint()

    def show_due(self, due_fen: int, balance_after_fen: int | None = None) -> bool:
        """The amount due (and the balance after) on the customer display, if there is one."""
        return self.display.show_due(due_fen, balance_after_fen) if self.display else False

    def clear_display(self) -> bool:
        """Blank the customer display (the sale is done, or was cancelled)."""
        return self.display.clear() if self.display else False

    def statuses(self) -> list[st.DeviceStatus]:
        """Each device's state, in the order of ``status.DEVICES``, in the current language."""
        found = [
            self.printer.status()
            if self.printer
            else st.status("printer", st.OFF, "printer.off", "--printer"),
            self.card_reader.status(),
        ]
        for name, reader, option in (
            ("serial", self.serial, "--serial"),
            ("caller_id", self.caller_id, "--caller-id"),
        ):
            found.append(
                reader.status() if reader else st.status(name, st.OFF, "serial.off", option)
            )
        found.append(
            self.display.status()
            if self.display
            else st.status("display", st.OFF, "serial.off", "--display")
        )
        return found

    def as_json(self) -> list[dict[str, Any]]:
        return [s.as_dict() for s in self.statuses()]
