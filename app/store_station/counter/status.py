"""A device's state as the counter page shows it: ok / off / missing / error, and what to do.

The words go through gettext when a status is made, so ``GET /local/status`` answers in
the language of its request (zh-Hans, zh-Hant or en); ``code`` and ``state`` are the
contract other counter software reads, ``detail`` the technical reason for the log.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.i18n import gettext

OK = "ok"
OFF = "off"  #: not configured: the station runs without it
MISSING = "missing"  #: configured but not there (unplugged, switched off, unreachable)
ERROR = "error"  #: there but failing (a driver or service problem)

#: The devices, in the order the page lists them.
DEVICES = ("printer", "card_reader", "serial", "caller_id", "display")


@dataclass(frozen=True)
class DeviceStatus:
    device: str  #: one of DEVICES
    state: str  #: OK, OFF, MISSING or ERROR
    code: str  #: why, for programs: "printer.unreachable", "card_reader.no_service", …
    message: str  #: what is wrong (or "Ready"), in the request's language
    advice: str  #: what the staff should do about it; empty when nothing
    detail: str = ""  #: the technical reason (an exception's text), for the log

    def as_dict(self) -> dict[str, Any]:
        return {
            "device": self.device,
            "state": self.state,
            "code": self.code,
            "message": self.message,
            "advice": self.advice,
            "detail": self.detail,
        }


def _words(code: str, where: str) -> tuple[str, str]:
    """The message and the advice of a status code (one place, so each text is one msgid)."""
    if code.endswith(".ready"):
        return gettext("Ready (%(where)s)", where=where), ""
    if code.endswith(".off"):
        return gettext("Not configured"), gettext(
            "Start the station with %(option)s to use one.", option=where
        )
    table: dict[str, tuple[str, str]] = {
        "printer.unreachable": (
            gettext("The receipt printer at %(where)s does not answer.", where=where),
            gettext(
                "Switch the printer on, check its cable or network and its paper; "
                "then reprint the last receipt."
            ),
        ),
        "printer.failed": (
            gettext("The last receipt did not print (%(where)s).", where=where),
            gettext(
                "Check the paper and the cover, then reprint the last receipt: "
                "the sale itself is saved."
            ),
        ),
        "card_reader.no_driver": (
            gettext("The card reader software (pyscard) is not installed."),
            gettext("Install the station with its 'station' extra: pip install laoyou[station]."),
        ),
        "card_reader.no_service": (
            gettext("The smart card service (pcscd) is not running."),
            gettext("Start pcscd (systemctl start pcscd), then restart the station."),
        ),
        "card_reader.no_reader": (
            gettext("No card reader is plugged in."),
            gettext("Plug the card reader in; it is found by itself."),
        ),
        "serial.missing": (
            gettext("Nothing answers on %(where)s.", where=where),
            gettext("Plug the device in (or check its cable); the station reconnects by itself."),
        ),
    }
    message, advice = table[code]
    return message, advice


def status(device: str, state: str, code: str, where: str = "", detail: str = "") -> DeviceStatus:
    """A status in the current language: ``status("printer", MISSING, "printer.unreachable",
    "tcp://10.0.0.9:9100", "timed out")``."""
    message, advice = _words(code, where)
    return DeviceStatus(device, state, code, message, advice, detail)
