"""Points-expiring reminders: one per card and expiry day, in the member's language."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from app.db import db
from app.ledger import journal
from app.members.services import set_alert_preference
from app.members.wechat import bind_openid
from app.messaging.models import OutboxMessage


def gift(card: Any, points: int, key: str, expires_on: dt.date | None) -> Any:
    return journal.credit_points(card, points, kind="gift", key=key, expires_on=expires_on)


def reminders() -> list[OutboxMessage]:
    return list(
        db.session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.alert_type == "points_expiring")
            .order_by(OutboxMessage.id)
        )
    )


def test_the_earliest_day_within_the_window_is_announced_once(
    runner: Any, member_card: Any
) -> None:
    member, card = member_card()
    gift(card, 100, "a", dt.date(2027, 1, 31))
    gift(card, 20, "b", dt.date(2027, 1, 31))
    gift(card, 50, "c", dt.date(2027, 2, 20))
    gift(card, 7, "d", None)
    db.session.flush()

    result = runner.invoke(args=["ledger", "remind-expiring", "--as-of", "2027-01-05"])
    assert result.exit_code == 0, result.output
    assert "1 cards reminded" in result.output
    (row,) = reminders()
    assert row.channel == "sms" and row.address == member.phone
    assert row.body == (
        f"卡号尾号{card.number[-4:]}：120积分将于2027-01-31后过期，请在此之前到任一门店使用。"
    )
    again = runner.invoke(args=["ledger", "remind-expiring", "--as-of", "2027-01-06"])
    assert again.exit_code == 0, again.output
    assert len(reminders()) == 1


def test_nothing_outside_the_window_and_nothing_already_expired(
    runner: Any, member_card: Any
) -> None:
    _, card = member_card()
    gift(card, 100, "a", dt.date(2027, 3, 1))
    gift(card, 30, "b", dt.date(2026, 12, 31))
    db.session.flush()
    result = runner.invoke(args=["ledger", "remind-expiring", "--as-of", "2027-01-05"])
    assert "0 cards reminded" in result.output
    assert reminders() == []
    wider = runner.invoke(
        args=["ledger", "remind-expiring", "--as-of", "2027-01-05", "--days", "60"]
    )
    assert "1 cards reminded" in wider.output
    assert "100" in reminders()[0].body


def test_a_member_who_switched_it_off_gets_none_and_wechat_members_get_it_there(
    runner: Any, member_card: Any
) -> None:
    quiet, quiet_card = member_card(phone="+8613900000001")
    bound, bound_card = member_card(phone="+8613900000002", language="en")
    set_alert_preference(quiet, "points_expiring", False)
    bind_openid("o-expiring-1", bound, via="code")
    gift(quiet_card, 10, "q", dt.date(2027, 1, 10))
    gift(bound_card, 10, "b", dt.date(2027, 1, 10))
    db.session.flush()
    runner.invoke(args=["ledger", "remind-expiring", "--as-of", "2027-01-05"])
    (row,) = reminders()
    assert (row.channel, row.address) == ("wechat", "o-expiring-1")
    assert row.body.startswith(f"Card *{bound_card.number[-4:]}: 10 points expire after")


def test_a_bad_window_is_refused(runner: Any) -> None:
    assert runner.invoke(args=["ledger", "remind-expiring", "--days", "0"]).exit_code == 2
    assert runner.invoke(args=["ledger", "remind-expiring", "--as-of", "5/1"]).exit_code == 2
