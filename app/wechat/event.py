"""What the webhook hands the event answerer: one WeChat event, already verified and parsed."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Event:
    #: The follower's openid (``FromUserName``).
    openid: str
    #: Lower case: subscribe, unsubscribe, scan, click, view, templatesendjobfinish, ...
    event: str
    #: ``EventKey``: the menu key, the VIEW URL, ``qrscene_<scene>`` on a subscribe by QR,
    #: ``<scene>`` on SCAN; "" when absent.
    key: str
    #: ``Ticket`` of a scene QR; "" when absent.
    ticket: str
    #: ``CreateTime`` (seconds since the epoch, as WeChat sent it).
    create_time: int

    @property
    def dedupe_id(self) -> str:
        """WeChat's retries of one event share these (events carry no MsgId)."""
        return f"{self.openid}:{self.create_time}:{self.event}"
