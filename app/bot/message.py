"""What an adapter hands the engine, and what it gets back. Knows no provider."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

CHANNELS = ("sms", "wechat", "simulator")


@dataclass(frozen=True)
class Message:
    #: "sms" | "wechat" | "simulator"
    channel: str
    #: E.164 for sms and simulator, an openid for wechat.
    sender: str
    text: str
    #: Twilio MessageSid, WeChat MsgId; None when the channel has none. The
    #: adapter deduplicates by it before calling the engine.
    provider_id: str | None
    #: Aware UTC.
    received_at: dt.datetime


@dataclass(frozen=True)
class Reply:
    #: What to send back; "" means send nothing.
    text: str
    #: zh-Hans | zh-Hant | en: the language ``text`` is written in.
    language: str
    #: The command that answered ("points", "opt_out", ...), or what answered instead:
    #: "unknown" (no command matched), "opt_out_hint" (a sentence starting with STOP is
    #: no opt-out; the sender is told the exact keyword), "join_first" (a stranger tried
    #: a member command; "bind_first" on WeChat), "bad_input", "rate_limited", "opted_out".
    #: None: nothing ran.
    command: str | None
    #: True when the engine deliberately says nothing (rate-limited, opted out).
    silent: bool = False


@dataclass(frozen=True)
class Sender:
    """Who sent a message, as the filter chain and the hot commands read it.

    Plain values, the same for every channel; commands that need the member itself
    use ``Context.member``.
    """

    #: None for a stranger (or a channel whose addresses are not bound to members yet).
    member_id: int | None = None
    #: The member's language; None for a stranger.
    language: str | None = None
    #: The name of the member's level, if they have one.
    level: str | None = None
    opted_out: bool = False
