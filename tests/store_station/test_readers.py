"""Cards inserted, read and removed for real: pcscd, its vpcd reader, our virtual card."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from flask import Flask

from app.i18n import in_language
from app.store_station.counter.events import CardInserted, CardRemoved, CardUnreadable, Event
from app.store_station.counter.readers import NoCardReader, PcscCardReader, list_readers
from tests.store_station.conftest import Pcscd
from tests.store_station.vicc import CONTACT_ATR, CONTACTLESS_ATR, VirtualCard

UID = bytes.fromhex("04A1B2C3D4E5F6")


@pytest.fixture
def events(pcscd: Pcscd) -> Iterator[queue.Queue[Event]]:
    """A started PC/SC reader whose events land on the queue returned."""
    found: queue.Queue[Event] = queue.Queue()
    reader = PcscCardReader()
    reader.start(found.put)
    yield found
    reader.stop()


def next_event(found: queue.Queue[Event]) -> Event:
    return found.get(timeout=10)


def test_the_readers_pcscd_knows_are_listed(pcscd: Pcscd, station_app: Flask) -> None:
    assert pcscd.reader in list_readers()
    with station_app.app_context(), in_language("zh-Hans"):
        status = PcscCardReader().status()
    assert (status.state, status.code) == ("ok", "card_reader.ready")
    assert pcscd.reader in status.message and status.message.startswith("就绪")


@pytest.mark.parametrize("atr", [CONTACTLESS_ATR, CONTACT_ATR], ids=["contactless", "contact"])
def test_a_card_is_noticed_read_and_its_removal_seen(
    pcscd: Pcscd, events: queue.Queue[Event], atr: bytes
) -> None:
    card = VirtualCard(UID, atr, port=pcscd.port)
    card.insert()
    try:
        inserted = next_event(events)
    finally:
        card.remove()
    assert inserted == CardInserted(pcscd.reader, "04A1B2C3D4E5F6", atr.hex().upper())
    assert bytes.fromhex("FFCA000000") in card.apdus
    assert next_event(events) == CardRemoved(pcscd.reader)


def test_a_second_card_after_the_first_has_its_own_uid(
    pcscd: Pcscd, events: queue.Queue[Event]
) -> None:
    for uid in (UID, bytes.fromhex("1234ABCD")):
        card = VirtualCard(uid, port=pcscd.port)
        card.insert()
        try:
            event = next_event(events)
        finally:
            card.remove()
        assert isinstance(event, CardInserted) and event.uid == uid.hex().upper()
        assert isinstance(next_event(events), CardRemoved)


class NoUidCard(VirtualCard):
    def answer(self, apdu: bytes) -> bytes:
        self.apdus.append(apdu)
        return b"\x6a\x81"  # function not supported


def test_a_card_that_gives_no_uid_is_unreadable_not_a_crash(
    pcscd: Pcscd, events: queue.Queue[Event]
) -> None:
    card = NoUidCard(UID, port=pcscd.port)
    card.insert()
    try:
        event = next_event(events)
    finally:
        card.remove()
    assert isinstance(event, CardUnreadable)
    assert "6A 81" in event.reason
    assert isinstance(next_event(events), CardRemoved)


def test_without_pcscd_the_status_says_to_start_it(tmp_path: object) -> None:
    """A process whose PC/SC socket leads nowhere (libpcsclite reads it once a process)."""
    code = (
        "from app.store_station.counter.readers import PcscCardReader\n"
        "s = PcscCardReader().status()\n"
        "print(s.state, s.code, '|', s.advice)\n"
    )
    env = {**os.environ, "PCSCLITE_CSOCK_NAME": f"{tmp_path}/nothing.comm"}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("error card_reader.no_service |")
    assert "pcscd" in done.stdout


def test_reader_none_is_off(station_app: Flask) -> None:
    with station_app.app_context(), in_language("en"):
        status = NoCardReader().status()
    assert (status.state, status.message) == ("off", "Not configured")
    assert "--reader pcsc" in status.advice


# pyscard's own monitoring thread may die with pcscd (a traceback it prints, in its
# thread, out of our reach); what matters is that our watcher starts a new one.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_cards_are_seen_again_after_pcscd_restarts(pcscd: Pcscd) -> None:
    """pcscd stopped and started (an upgrade, a crash): the reader picks it up again."""
    found: queue.Queue[Event] = queue.Queue()
    reader = PcscCardReader(check_s=0.1)
    reader.start(found.put)
    try:
        pcscd.restart()
        time.sleep(0.5)  # the watcher notices and starts pyscard's monitor again
        assert reader.status().state == "ok"
        card = VirtualCard(UID, port=pcscd.port)
        card.insert()
        try:
            inserted = next_event(found)
        finally:
            card.remove()
        assert inserted == CardInserted(
            pcscd.reader, UID.hex().upper(), CONTACTLESS_ATR.hex().upper()
        )
        assert next_event(found) == CardRemoved(pcscd.reader)
    finally:
        reader.stop()
