"""Opt-out and opt-in per channel and address.

Strangers can opt out too (a number that is not a member must still be able to
stop a message), so the registry is keyed by channel and address, not by member.
A member's ``sms_opt_out`` / ``wechat_opt_out`` flags are kept in step.
The simulator stands in for SMS, so its opt-outs are SMS opt-outs.
"""

from __future__ import annotations

from sqlalchemy import ScalarSelect, bindparam, select

from app.db import db, utcnow
from app.members.services import set_sms_opt_out
from app.members.wechat import set_wechat_opt_out
from app.optout.models import OPT_CHANNELS, OptOut, OptOutEvent

#: Channels that share one registry: the simulator plays a phone.
_CHANNEL_ALIASES = {"simulator": "sms"}


def opt_out(channel: str, address: str, *, source: str) -> bool:
    """Opt the address out; True when that changed anything (False if already out)."""
    return _set(channel, address, opted_out=True, source=source)


def opt_in(channel: str, address: str, *, source: str) -> bool:
    """Opt the address back in; True when it had been opted out."""
    return _set(channel, address, opted_out=False, source=source)


def is_opted_out(channel: str, address: str) -> bool:
    return bool(db.session.scalar(select(opted_out_clause(channel, address))))


def opted_out_clause(channel: str, address: str) -> ScalarSelect[bool]:
    """``is_opted_out`` as a scalar subquery to ride along another query (NULL: never out)."""
    return (
        select(OptOut.opted_out)
        .where(OptOut.channel == _channel(channel), OptOut.address == address)
        .scalar_subquery()
    )


#: ``opted_out_clause`` built once, its channel and address left as the bound parameters
#: ``optout_channel`` and ``optout_address`` (fill them with ``opted_out_params``): hot
#: paths reuse one statement, and SQLAlchemy its compiled form, instead of building both
#: per message.
OPTED_OUT = (
    select(OptOut.opted_out)
    .where(
        OptOut.channel == bindparam("optout_channel"),
        OptOut.address == bindparam("optout_address"),
    )
    .scalar_subquery()
)


def opted_out_params(channel: str, address: str) -> dict[str, str]:
    """The bound parameters of ``OPTED_OUT`` for this channel and address."""
    return {"optout_channel": _channel(channel), "optout_address": address}


def _channel(channel: str) -> str:
    channel = _CHANNEL_ALIASES.get(channel, channel)
    if channel not in OPT_CHANNELS:
        raise ValueError(f"unknown channel {channel!r}")
    return channel


def _set(channel: str, address: str, *, opted_out: bool, source: str) -> bool:
    channel = _channel(channel)
    row = db.session.scalar(
        select(OptOut).where(OptOut.channel == channel, OptOut.address == address).with_for_update()
    )
    if row is None:
        if not opted_out:
            return False
        row = OptOut(channel=channel, address=address, opted_out=True, changed_at=utcnow())
        db.session.add(row)
    elif row.opted_out == opted_out:
        return False
    else:
        row.opted_out = opted_out
        row.changed_at = utcnow()
    db.session.add(
        OptOutEvent(channel=channel, address=address, opted_out=opted_out, source=source)
    )
    _sync_member(channel, address, opted_out)
    db.session.flush()
    return True


def _sync_member(channel: str, address: str, opted_out: bool) -> None:
    if channel == "wechat":
        set_wechat_opt_out(address, opted_out)
    else:
        set_sms_opt_out(address, opted_out)
