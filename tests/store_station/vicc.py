"""A virtual smart card for vpcd (vsmartcard's virtual PC/SC reader), written for the tests.

vpcd, loaded by pcscd, listens on a TCP port for a card to connect: connecting inserts
the card, disconnecting removes it. Each frame either way is a 2-byte big-endian length
and the payload. From vpcd, a 1-byte payload is a control code (0 power off, 1 power on,
2 reset, 4 send the ATR); anything longer is an APDU, answered with the response bytes.
This card answers ``FF CA 00 00 00`` (get the UID) with its UID and ``90 00``, a SELECT
with ``90 00``, anything else with ``6D 00`` (instruction not supported).
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading

#: A MIFARE Classic 1K seen through a PC/SC contactless reader (PC/SC part 3 ATR).
CONTACTLESS_ATR = bytes.fromhex("3B8F8001804F0CA000000306030001000000006A")
#: A contact (ISO 7816) card: T=1, a few historical bytes.
CONTACT_ATR = bytes.fromhex("3B DB 96 00 80 1F 03 00 31 C0 64 77 E3 03 00 82 90 00 C1")

POWER_OFF, POWER_ON, RESET, GET_ATR = 0, 1, 2, 4


class VirtualCard:
    def __init__(self, uid: bytes, atr: bytes = CONTACTLESS_ATR, port: int = 35963) -> None:
        self.uid, self.atr, self.port = uid, atr, port
        self.apdus: list[bytes] = []  #: every APDU the card received, for the tests
        self._socket: socket.socket | None = None
        self._thread: threading.Thread | None = None

    def insert(self, host: str = "127.0.0.1", timeout_s: float = 5.0) -> None:
        """Connect to vpcd: pcscd sees a card on the reader."""
        self._socket = socket.create_connection((host, self.port), timeout=timeout_s)
        self._socket.settimeout(None)
        self._thread = threading.Thread(target=self._serve, args=(self._socket,), daemon=True)
        self._thread.start()

    def remove(self) -> None:
        """Disconnect: pcscd sees the card leave."""
        if self._socket is not None:
            with contextlib.suppress(OSError):
                self._socket.shutdown(socket.SHUT_RDWR)
            self._socket.close()
            self._socket = None
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def answer(self, apdu: bytes) -> bytes:
        self.apdus.append(apdu)
        if apdu[:5] == bytes.fromhex("FFCA000000"):
            return self.uid + b"\x90\x00"
        if apdu[:2] == b"\x00\xa4":
            return b"\x90\x00"
        return b"\x6d\x00"

    def _serve(self, conn: socket.socket) -> None:
        try:
            while True:
                header = _read_exactly(conn, 2)
                if header is None:
                    return
                (length,) = struct.unpack(">H", header)
                payload = _read_exactly(conn, length)
                if payload is None:
                    return
                if length == 1:
                    if payload[0] == GET_ATR:
                        _send(conn, self.atr)
                    continue  # power on / off and reset need no answer
                _send(conn, self.answer(payload))
        except OSError:
            return  # removed while vpcd was talking to us


def _send(conn: socket.socket, payload: bytes) -> None:
    conn.sendall(struct.pack(">H", len(payload)) + payload)


def _read_exactly(conn: socket.socket, size: int) -> bytes | None:
    data = bytearray()
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            return None
        data.extend(chunk)
    return bytes(data)
