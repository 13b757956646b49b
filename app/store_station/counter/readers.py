"""IC and contactless card readers: PC/SC through pyscard, chosen by ``--reader pcsc|none``.

pyscard's ``CardMonitor`` notices a card inserted or tapped and removed on any reader
pcscd knows; the card's UID is read with the PC/SC "get data" pseudo-APDU
``FF CA 00 00 00`` (status ``90 00``: the UID follows), for contact and contactless
cards alike, and goes to the station's queue as a ``CardInserted`` event. The UID is the
card medium the central service resolves to a member.

``FakeCardReader`` is the tests' and the demo's reader: ``tap(uid)`` and ``remove()``.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Protocol

from app.store_station.counter import status as st
from app.store_station.counter.events import CardInserted, CardRemoved, CardUnreadable, EventSink

log = logging.getLogger("laoyou.station.reader")

#: PC/SC part 3 "get data": the UID of the card on the reader.
GET_UID = [0xFF, 0xCA, 0x00, 0x00, 0x00]


class CardReader(Protocol):
    def start(self, sink: EventSink) -> None: ...
    def stop(self) -> None: ...
    def status(self) -> st.DeviceStatus: ...


class UidError(Exception):
    """The card answered ``FF CA`` with something else than a UID and ``90 00``."""


def hex_bytes(data: list[int] | bytes) -> str:
    return bytes(data).hex().upper()


def list_readers() -> list[str]:
    """The names of the readers pcscd knows; raises when pcscd is not there."""
    from smartcard.System import readers

    return [str(reader) for reader in readers()]


def read_uid(card: Any) -> str:
    """Connect to ``card`` (a pyscard ``Card``), send ``FF CA 00 00 00``, return the UID."""
    connection = card.createConnection()
    connection.connect()
    try:
        data, sw1, sw2 = connection.transmit(GET_UID)
    finally:
        connection.disconnect()
    if (sw1, sw2) != (0x90, 0x00) or not data:
        raise UidError(f"the card answered {sw1:02X} {sw2:02X} to FF CA (no UID)")
    return hex_bytes(data)


def _observer(sink: EventSink) -> Any:
    """A ``CardObserver`` (made here: pyscard is an optional extra, imported when used)."""
    from smartcard.CardMonitoring import CardObserver

    class Observer(CardObserver):  # type: ignore[misc]
        def update(self, observable: Any, handlers: Any) -> None:
            added, removed = handlers
            for card in added:
                reader = str(card.reader)
                try:
                    uid = read_uid(card)
                except Exception as exc:  # pulled out too soon, a card without UID
                    log.info("card on %s unreadable: %s", reader, exc)
                    sink(CardUnreadable(reader, f"{type(exc).__name__}: {exc}"))
                else:
                    sink(CardInserted(reader, uid, hex_bytes(card.atr)))
            for card in removed:
                sink(CardRemoved(str(card.reader)))

    return Observer()


class PcscCardReader:
    """Every PC/SC reader on the PC, through one ``CardMonitor`` (pyscard keeps one a
    process). Started when pcscd answers; ``status`` starts it later if it did not."""

    def __init__(self) -> None:
        self._sink: EventSink | None = None
        self._monitor: Any = None
        self._observer: Any = None
        self._lock = threading.Lock()

    def start(self, sink: EventSink) -> None:
        self._sink = sink
        self.status()  # starts the monitor when pcscd is there

    def _start_monitor(self) -> None:
        from smartcard.CardMonitoring import CardMonitor

        with self._lock:
            if self._monitor is not None or self._sink is None:
                return
            self._monitor = CardMonitor()
            self._observer = _observer(self._sink)
            self._monitor.addObserver(self._observer)

    def stop(self) -> None:
        with self._lock:
            if self._monitor is not None:
                self._monitor.deleteObserver(self._observer)
            self._monitor = self._observer = None

    def status(self) -> st.DeviceStatus:
        try:
            import smartcard  # noqa: F401
        except ImportError as exc:
            return st.status("card_reader", st.ERROR, "card_reader.no_driver", "", str(exc))
        try:
            names = list_readers()
        except Exception as exc:  # EstablishContextException: pcscd is not running
            detail = f"{type(exc).__name__}: {exc}"
            return st.status("card_reader", st.ERROR, "card_reader.no_service", "", detail)
        self._start_monitor()
        if not names:
            return st.status("card_reader", st.MISSING, "card_reader.no_reader")
        return st.status("card_reader", st.OK, "card_reader.ready", ", ".join(names))


class NoCardReader:
    """``--reader none``: cards are typed or scanned instead."""

    def start(self, sink: EventSink) -> None:
        return None

    def stop(self) -> None:
        return None

    def status(self) -> st.DeviceStatus:
        return st.status("card_reader", st.OFF, "card_reader.off", "--reader pcsc")


class FakeCardReader:
    """A reader for the tests and the demo: ``tap(uid)`` puts a card on it, ``remove()``."""

    name = "Fake reader 00 00"

    def __init__(self) -> None:
        self._sink: EventSink | None = None
        self.present: str | None = None

    def start(self, sink: EventSink) -> None:
        self._sink = sink

    def stop(self) -> None:
        self._sink = None

    def tap(self, uid: str, atr: str = "3B8F8001804F0CA000000306030001000000006A") -> None:
        self.present = uid.upper()
        if self._sink is not None:
            self._sink(CardInserted(self.name, self.present, atr))

    def remove(self) -> None:
        self.present = None
        if self._sink is not None:
            self._sink(CardRemoved(self.name))

    def status(self) -> st.DeviceStatus:
        return st.status("card_reader", st.OK, "card_reader.ready", self.name)
