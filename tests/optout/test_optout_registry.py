"""The opt-out registry the dispatcher checks at send time."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from app.db import db
from app.optout.models import OptOutEvent
from app.optout.services import is_opted_out, opt_in, opt_out

PHONE = "+8613800138000"


def test_opt_out_and_in_keep_history_and_member_flag(app: Any, make_member: Any) -> None:
    member = make_member(PHONE)
    assert not is_opted_out("sms", PHONE)
    assert opt_out("sms", PHONE, source="sms:STOP") is True
    assert opt_out("sms", PHONE, source="sms:TD") is False
    assert is_opted_out("sms", PHONE) and member.sms_opt_out
    assert not is_opted_out("wechat", PHONE)
    assert opt_in("sms", PHONE, source="sms:START") is True
    assert opt_in("sms", PHONE, source="sms:START") is False
    assert not is_opted_out("sms", PHONE) and not member.sms_opt_out
    events = db.session.scalars(select(OptOutEvent).order_by(OptOutEvent.id)).all()
    assert [(e.opted_out, e.source) for e in events] == [(True, "sms:STOP"), (False, "sms:START")]


def test_strangers_and_wechat_openids(app: Any) -> None:
    assert opt_out("wechat", "oAbCdEf123", source="wechat:unsubscribe")
    assert is_opted_out("wechat", "oAbCdEf123")
    assert opt_in("simulator", PHONE, source="simulator:START") is False
    assert opt_out("simulator", PHONE, source="simulator:TD")
    assert is_opted_out("sms", PHONE)


def test_unknown_channel_is_a_programming_error(app: Any) -> None:
    with pytest.raises(ValueError, match="unknown channel"):
        opt_out("fax", PHONE, source="x")


def test_the_members_flag_is_kept_by_members_services(app: Any, make_member: Any) -> None:
    """The registry keeps the member's flag in step through ``members.services``."""
    from app.members.services import find_member_by_phone, set_sms_opt_out

    make_member(PHONE)
    set_sms_opt_out("+8613900139000", True)  # no member has this phone: nothing to change
    set_sms_opt_out(PHONE, True)
    db.session.flush()
    db.session.expire_all()
    assert find_member_by_phone(PHONE).sms_opt_out is True
    set_sms_opt_out(PHONE, False)
    assert find_member_by_phone(PHONE).sms_opt_out is False
