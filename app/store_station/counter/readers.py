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


def _clear_dead_monitor() -> bool:
    """Whether pyscard's card monitor had stopped, and was cleared so it can start again.

    pyscard keeps one monitor thread a process and never restarts it: the thread ends
    when pcscd goes away (``SCARD_E_NO_SERVICE``: pcscd restarted, upgraded), and the
    singletons keep the dead thread. They are cleared here (pyscard has no call for it),
    the dead thread's PC/SC context let go, so the next ``CardMonitor()`` starts afresh.
    """
    from smartcard.CardMonitoring import CardMonitor, CardMonitoringThread

    thread = CardMonitoringThread.instance
    if thread is None or thread.is_alive():
        return False
    request = getattr(getattr(thread, "cardrequest", None), "pcsccardrequest", None)
    if request is not None:
        try:
            request.release()
        except Exception:  # the context died with pcscd: nothing left to release
            request.hcontext = None
    with CardMonitoringThread.lock:
        CardMonitoringThread.instance = None
    with CardMonitor.lock:
        CardMonitor.instance = None
    return True


class PcscCardReader:
    """Every PC/SC reader on the PC, through pyscard's ``CardMonitor``.

    A watcher thread looks at pcscd every ``check_s`` seconds: it starts the monitor
    once pcscd answers (the station may start before it), and starts it again after
    pcscd went away and came back.
    """

    def __init__(self, check_s: float = 2.0) -> None:
        self.check_s = check_s
        self._sink: EventSink | None = None
        self._monitor: Any = None
        self._observer: Any = None
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._watcher: threading.Thread | None = None

    def start(self, sink: EventSink) -> None:
        self._sink = sink
        self._stopping.clear()
        self._check()
        self._watcher = threading.Thread(target=self._watch, name="station-pcsc", daemon=True)
        self._watcher.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._watcher is not None:
            self._watcher.join(self.check_s + 1)
            self._watcher = None
        with self._lock:
            if self._monitor is not None:
                self._monitor.deleteObserver(self._observer)
            self._monitor = self._observer = None
            self._sink = None

    def _watch(self) -> None:
        while not self._stopping.wait(self.check_s):
            self._check()

    def _check(self) -> tuple[str, str, str, str]:
        """(state, code, readers, detail) now; (re)starts the monitor when pcscd answers."""
        try:
            import smartcard  # noqa: F401
        except ImportError as exc:
            return st.ERROR, "card_reader.no_driver", "", str(exc)
        try:
            names = list_readers()
        except Exception as exc:  # EstablishContextException: pcscd is not running
            return st.ERROR, "card_reader.no_service", "", f"{type(exc).__name__}: {exc}"
        self._ensure_monitor()
        if not names:
            return st.MISSING, "card_reader.no_reader", "", ""
        return st.OK, "card_reader.ready", ", ".join(names), ""

    def _ensure_monitor(self) -> None:
        from smartcard.CardMonitoring import CardMonitor

        with self._lock:
            if self._sink is None:
                return
            restarted = _clear_dead_monitor()
            if self._monitor is not None and not restarted:
                return
            if restarted:
                log.warning("the card monitor had stopped (pcscd went away): started again")
            self._monitor = CardMonitor()
            self._observer = _observer(self._sink)
            self._monitor.addObserver(self._observer)

    def status(self) -> st.DeviceStatus:
        state, code, names, detail = self._check()
        return st.status("card_reader", state, code, names, detail)


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
