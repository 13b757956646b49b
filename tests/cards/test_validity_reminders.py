"""Card validity reminders: every card with an end date, not only period cards, worded for
its kind in the member's language; one message per card and last day however often, and
however many hosts at once, the job runs; nothing for a card that no longer works."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from app.cards.services import change_state, enroll, issue_card, replace_card
from app.cards.validity import remind_validity_ending
from app.db import db, unit_of_work
from app.messaging.dispatcher import Dispatcher
from app.messaging.models import OutboxMessage
from app.optout.services import opt_out
from app.stores.services import create_store
from scheduler.services import run_now

DAY = dt.date(2026, 12, 7)
LAST = DAY + dt.timedelta(days=5)  # within CARD_EXPIRY_REMINDER_DAYS (7)
KEY = "alert:card_expiring:%"


def _reminders() -> list[OutboxMessage]:
    return list(
        db.session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.dedupe_key.like(KEY))
            .order_by(OutboxMessage.id)
        )
    )


@pytest.fixture
def holder(make_member: Callable[..., Any], make_card: Callable[..., Any]) -> Callable[..., Any]:
    """``holder("gift", language="en")``: a member holding one card of that type ending LAST."""

    def make(card_type: str, *, language: str = "en", until: dt.date = LAST) -> Any:
        member = make_member(language=language)
        return make_card(card_type, member=member, valid_from=min(DAY, until), valid_until=until)

    return make


TEXTS = {
    ("period", "en"): "Card *{last4} is valid until 2026-12-12. "
    "Renew it at any of our stores to keep its benefits.",
    ("stored_value", "en"): "Your membership card *{last4} expires on 2026-12-12. "
    "Renew it at any of our stores to keep its benefits.",
    ("stored_value", "zh-Hans"): "您的会员卡（尾号{last4}）将于2026-12-12到期，"
    "请到任一门店续期，以免影响会员权益。",
    ("stored_value", "zh-Hant"): "您的會員卡（尾號{last4}）將於2026-12-12到期，"
    "請到任一門店續期，以免影響會員權益。",
    ("points", "zh-Hans"): "您的会员卡（尾号{last4}）将于2026-12-12到期，"
    "请到任一门店续期，以免影响会员权益。",
    ("count", "en"): "Your membership card *{last4} expires on 2026-12-12. "
    "Renew it at any of our stores to keep its benefits.",
    ("gift", "en"): "Your gift card *{last4} expires on 2026-12-12. "
    "Use its balance at any of our stores before then.",
    (
        "gift",
        "zh-Hans",
    ): "您的礼品卡（尾号{last4}）将于2026-12-12到期，请在此之前到任一门店使用余额。",
    (
        "gift",
        "zh-Hant",
    ): "您的禮品卡（尾號{last4}）將於2026-12-12到期，請在此之前到任一門店使用餘額。",
    (
        "period",
        "zh-Hans",
    ): "卡号尾号{last4}的会员卡有效期至2026-12-12，请到任一门店续期，以免影响会员权益。",
    (
        "period",
        "zh-Hant",
    ): "卡號尾號{last4}的會員卡有效期至2026-12-12，請到任一門店續期，以免影響會員權益。",
}


@pytest.mark.parametrize(("card_type", "language"), sorted(TEXTS))
def test_each_kind_of_card_is_reminded_in_its_words_and_the_members_language(
    app: Flask, holder: Callable[..., Any], card_type: str, language: str
) -> None:
    card = holder(card_type, language=language)
    assert remind_validity_ending(DAY, days=7) == 1
    (row,) = _reminders()
    assert row.body == TEXTS[(card_type, language)].format(last4=card.number[-4:])
    assert (row.address, row.language) == (card.member.phone, language)
    # A notice about the member's own card: an alert (not marketing), no switch of its own.
    assert (row.kind, row.alert_type, row.channel) == ("alert", None, "sms")


def test_run_twice_and_on_later_days_one_message_per_card_and_last_day(
    app: Flask, holder: Callable[..., Any]
) -> None:
    membership = holder("stored_value")
    period = holder("period")
    assert remind_validity_ending(DAY, days=7) == 2
    assert remind_validity_ending(DAY, days=7) == 2  # a second run the same day
    assert run_now("card_validity_reminders", as_of=DAY, trigger="cli").counts == {
        "cards": 2,
        "days_ahead": 7,
    }
    later = run_now("card_validity_reminders", as_of=DAY + dt.timedelta(days=3), trigger="cli")
    assert later.outcome == "ok" and later.counts["cards"] == 2
    assert [r.dedupe_key for r in _reminders()] == [
        f"alert:card_expiring:{membership.id}:{LAST}",
        f"alert:card_expiring:{period.id}:{LAST}",
    ]
    # Renewed to a new last day: that day is reminded once in its turn.
    membership.valid_until = LAST + dt.timedelta(days=365)
    db.session.flush()
    assert remind_validity_ending(LAST + dt.timedelta(days=360), days=7) == 1
    assert remind_validity_ending(LAST + dt.timedelta(days=361), days=7) == 1
    assert len(_reminders()) == 3


def test_no_reminder_for_a_card_that_no_longer_works_or_is_not_ending(
    app: Flask, holder: Callable[..., Any], make_card: Callable[..., Any]
) -> None:
    cancelled = holder("stored_value")
    change_state(cancelled, "cancel", actor="test")
    for action in ("report-lost", "freeze"):
        change_state(holder("stored_value"), action, actor="test")
    replaced = holder("stored_value")
    new = replace_card(replaced, actor="test")
    holder("stored_value", until=DAY + dt.timedelta(days=8))  # beyond the 7 days
    holder("stored_value", until=DAY - dt.timedelta(days=1))  # over already
    make_card("gift", valid_until=LAST)  # anonymous: nobody to tell
    make_card("stored_value", member=cancelled.member)  # no end date
    assert remind_validity_ending(DAY, days=7) == 1
    (row,) = _reminders()
    # The replacement carries the validity on: its holder hears of the new number only.
    assert row.dedupe_key == f"alert:card_expiring:{new.id}:{LAST}"
    assert new.number[-4:] in row.body and replaced.number[-4:] not in row.body


def test_an_opted_out_member_gets_no_reminder(app: Flask, holder: Callable[..., Any]) -> None:
    kept = holder("stored_value")
    stopped = holder("stored_value")
    opt_out("sms", stopped.member.phone, source="test")
    remind_validity_ending(DAY, days=7)
    db.session.commit()
    Dispatcher(app, sleep=lambda s: None).run_once()
    db.session.expire_all()
    status = {r.address: (r.status, r.last_error) for r in _reminders()}
    assert status[stopped.member.phone] == ("suppressed", "opted out")
    assert status[kept.member.phone][0] == "sent"


def _count() -> int:
    db.session.rollback()  # a fresh snapshot (and SQLite's lock released)
    query = (
        select(func.count()).select_from(OutboxMessage).where(OutboxMessage.dedupe_key.like(KEY))
    )
    return int(db.session.scalar(query) or 0)


@pytest.mark.concurrent
def test_four_hosts_at_once_queue_one_message_per_card(live_app: Flask) -> None:
    with unit_of_work():
        store = create_store("SH01", "静安店", "华东")
        for n, card_type in enumerate(("stored_value", "period", "gift", "count")):
            member = enroll({"phone": f"+86138001380{n:02d}", "home_store": "SH01"})
            issue_card(card_type, member=member, store=store, valid_from=DAY, valid_until=LAST)
    db.session.remove()
    barrier = threading.Barrier(4)

    def host(_: int) -> Any:
        with live_app.app_context():
            barrier.wait()
            try:
                with unit_of_work():
                    return remind_validity_ending(DAY, days=7)
            except Exception as exc:  # a host that lost a race may fail; it must not double
                return exc
            finally:
                db.session.remove()

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(host, range(4)))
    assert any(r == 4 for r in results), results
    assert _count() == 4
