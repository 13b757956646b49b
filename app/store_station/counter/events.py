"""What the devices tell the station page: small immutable events put on one queue.

Every reader thread (PC/SC, each serial port) calls an ``EventSink`` (``queue.put`` in
the station) with one of these; ``as_dict()`` is the JSON the page receives.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True)
class Event:
    kind: ClassVar[str] = "event"

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **dataclasses.asdict(self)}


@dataclass(frozen=True)
class CardInserted(Event):
    """An IC card inserted or a contactless card tapped, with its UID (upper-case hex)."""

    kind: ClassVar[str] = "card_inserted"
    reader: str
    uid: str
    atr: str


@dataclass(frozen=True)
class CardRemoved(Event):
    kind: ClassVar[str] = "card_removed"
    reader: str


@dataclass(frozen=True)
class CardUnreadable(Event):
    """A card is there but gave no UID (the reader refused ``FF CA``, or it was pulled out)."""

    kind: ClassVar[str] = "card_unreadable"
    reader: str
    reason: str


@dataclass(frozen=True)
class Swiped(Event):
    """A magnetic-stripe swipe. ``expiry`` is ``YYYY-MM`` when the track carries one."""

    kind: ClassVar[str] = "swiped"
    card_number: str
    expiry: str | None = None
    name: str | None = None
    track: int = 2


@dataclass(frozen=True)
class Scanned(Event):
    """A barcode or QR code read by a serial scanner (the e-card's rotating QR included)."""

    kind: ClassVar[str] = "scanned"
    code: str


@dataclass(frozen=True)
class IncomingCall(Event):
    """Caller ID (来电识别): the calling number as the unit reports it (digits, maybe ``+``)."""

    kind: ClassVar[str] = "incoming_call"
    number: str
    date: str | None = None  #: ``MMDD`` as the unit sends it, when it does
    time: str | None = None  #: ``HHMM``


@dataclass(frozen=True)
class Unreadable(Event):
    """A serial line that is not what the device should send: a bad swipe, line noise."""

    kind: ClassVar[str] = "unreadable"
    device: str
    reason: str


@dataclass(frozen=True)
class DeviceChanged(Event):
    """A device came, went or failed: the page refreshes its device list."""

    kind: ClassVar[str] = "device_changed"
    device: str
    state: str
    detail: str = ""


EventSink = Callable[[Event], None]
