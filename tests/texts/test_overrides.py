"""The shop's own wording: used by alerts and bot replies in each language, checked on
save, falling back to the catalogue when it cannot render, and cheap on the checkout path."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import event, select

import app.kept as kept_module
from app.bot.engine import handle_message
from app.bot.message import Message
from app.cards.services import member_cards
from app.db import db
from app.errors import InvalidRequest, NotFound
from app.i18n import OVERRIDES_EXTENSION
from app.messaging.alerts import TRANSACTION_TEXTS
from app.messaging.models import OutboxMessage
from app.texts import services
from app.texts.models import MessageText
from app.texts.services import entries, msgid_key, reset_override, save_override

pytestmark = pytest.mark.usefixtures("app")

CHECKOUT = TRANSACTION_TEXTS["checkout"]
POINTS = "Your points: %(points)s."
MINE = {
    "zh-Hans": "【老友】卡号尾号%(last4)s消费%(amount)s元（%(store)s %(time)s），"
    "余额%(balance)s元，积分%(points)s，共%(points_total)s分。",
    "zh-Hant": "【老友】卡號尾號%(last4)s消費%(amount)s元（%(store)s %(time)s），"
    "餘額%(balance)s元，積分%(points)s，共%(points_total)s分。",
    "en": "Laoyou: card %(last4)s paid %(amount)s at %(store)s (%(time)s); "
    "%(balance)s left, %(points)s points, %(points_total)s in all.",
}


def _ask(text: str, sender: str = "+8613800138000") -> str:
    message = Message("sms", sender, text, provider_id=None, received_at=dt.datetime.now(dt.UTC))
    return handle_message(message).text


def _alerts() -> list[str]:
    db.session.expire_all()
    return list(db.session.scalars(select(OutboxMessage.body).order_by(OutboxMessage.id)))


def _recharge_and_checkout(api: Any, card: str, key: str, amount_fen: int = 1250) -> None:
    recharge = api.post(
        f"/api/v1/cards/{card}/recharge",
        json={"amount_fen": 100_000, "store": "SH01"},
        headers={"Idempotency-Key": f"r-{key}"},
    )
    assert recharge.status_code == 201, recharge.get_json()
    _checkout(api, card, key, amount_fen)


def _checkout(api: Any, card: str, key: str, amount_fen: int = 1250) -> None:
    checkout = api.post(
        "/api/v1/checkout",
        json={"card": card, "store": "SH01", "amount_fen": amount_fen, "pay_with": "stored_value"},
        headers={"Idempotency-Key": f"c-{key}"},
    )
    assert checkout.status_code == 201, checkout.get_json()


def test_the_list_holds_alerts_bot_replies_and_other_texts_but_no_panel_words() -> None:
    by_msgid = {e.msgid: e for e in entries()}

    assert by_msgid[CHECKOUT].group == "alerts"
    assert by_msgid[CHECKOUT].key == msgid_key(CHECKOUT)
    assert by_msgid[POINTS].group == "replies"
    assert {e.group for e in entries()} == {"alerts", "replies", "others"}
    assert "Dashboard" not in by_msgid and "Wrong username or password." not in by_msgid
    assert not [e for e in entries() if any("menus.py" in where for where in e.locations)]


@pytest.mark.parametrize("language", ["zh-Hans", "zh-Hant", "en"])
def test_a_checkout_alert_uses_the_shops_wording_in_the_members_language(
    api: Any, make_member: Callable[..., Any], language: str
) -> None:
    save_override(msgid_key(CHECKOUT), language, MINE[language])
    member = make_member("+8613800138000", language=language)
    other = make_member("+8613800138001", language="en" if language != "en" else "zh-Hans")

    _recharge_and_checkout(api, member_cards(member)[0].number, "a")
    _recharge_and_checkout(api, member_cards(other)[0].number, "b")

    alerts = _alerts()
    assert alerts[1].startswith(MINE[language].split("%(")[0])
    assert "987.50" in alerts[1] and "12.50" in alerts[1]
    # The other member's language keeps the catalogue's wording.
    assert not any(alerts[3].startswith(text.split("%(")[0]) for text in MINE.values())
    assert "987.50" in alerts[3]


def test_the_alert_is_exactly_the_override_filled_in(
    api: Any, make_member: Callable[..., Any]
) -> None:
    save_override(
        msgid_key(CHECKOUT),
        "en",
        "Paid %(amount)s, %(balance)s left. "
        "%(last4)s %(store)s %(points)s %(points_total)s %(time)s",
    )
    member = make_member("+8613800138000", language="en")

    _recharge_and_checkout(api, member_cards(member)[0].number, "a")

    body = _alerts()[1]
    assert body.startswith("Paid 12.50, 987.50 left. ")
    assert member_cards(member)[0].number[-4:] in body


@pytest.mark.parametrize(
    ("language", "mine", "expected"),
    [
        ("zh-Hans", "本店积分：%(points)s 分", "本店积分：0 分"),
        ("zh-Hant", "本店積分：%(points)s 分", "本店積分：0 分"),
        ("en", "Points with us: %(points)s", "Points with us: 0"),
    ],
)
def test_a_bot_reply_uses_the_shops_wording_in_the_members_language(
    make_member: Callable[..., Any],
    language: str,
    mine: str,
    expected: str,
) -> None:
    make_member("+8613800138000", language=language)
    before = _ask("JF")
    assert expected not in before

    save_override(msgid_key(POINTS), language, mine)

    assert expected in _ask("JF")
    reset_override(msgid_key(POINTS), language)
    assert _ask("JF") == before


@pytest.mark.parametrize(
    ("text", "reason", "details"),
    [
        (
            "Paid %(amount)s.",
            "placeholders",
            {"missing": ["balance", "last4", "points", "points_total", "store", "time"]},
        ),
        (MINE["en"] + " %(name)s", "placeholders", {"unknown": ["name"]}),
        (MINE["en"] + " 100% sure", "text_format", {}),
        (MINE["en"] + " %(points)d", "text_format", {}),
        ("   ", "text_empty", {}),
        (MINE["en"] + "x" * 1000, "text_too_long", {}),
    ],
)
def test_a_text_that_would_not_render_as_the_code_fills_it_is_refused(
    text: str, reason: str, details: dict[str, list[str]]
) -> None:
    with pytest.raises(InvalidRequest) as refused:
        save_override(msgid_key(CHECKOUT), "en", text)

    assert refused.value.details["reason"] == reason
    for name, names in details.items():
        assert refused.value.details[name] == names
    assert db.session.scalars(select(MessageText)).all() == []


def test_an_unknown_text_or_language_is_refused() -> None:
    with pytest.raises(NotFound):
        save_override("0123456789ab", "en", "anything")
    with pytest.raises(InvalidRequest):
        save_override(msgid_key(CHECKOUT), "fr", MINE["en"])
    assert db.session.scalars(select(MessageText)).all() == []


def test_an_override_that_does_not_render_falls_back_to_the_catalogue(
    api: Any, make_member: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    # As a row edited by hand, or saved before the check existed, would be.
    db.session.add(
        MessageText(
            msgid_key=msgid_key(CHECKOUT),
            msgid=CHECKOUT,
            language="en",
            text="Paid %(amount)s, %(nothing)s",
            updated_by="sql",
        )
    )
    db.session.flush()
    member = make_member("+8613800138000", language="en")

    with caplog.at_level(logging.ERROR, logger="laoyou.i18n"):
        _recharge_and_checkout(api, member_cards(member)[0].number, "a")

    assert "spent 12.50 yuan" in _alerts()[1]
    assert any("does not render" in r.getMessage() for r in caplog.records)


def test_save_and_reset_are_audited_with_before_and_after() -> None:
    from app.audit.models import AuditEntry

    key = msgid_key(CHECKOUT)
    save_override(key, "zh-Hans", MINE["zh-Hans"])
    save_override(key, "zh-Hans", MINE["zh-Hans"] + "谢谢！")
    assert reset_override(key, "zh-Hans") is True
    assert reset_override(key, "zh-Hans") is False

    rows = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    assert [(r.action, r.object_id) for r in rows] == [
        ("message_text.update", f"{key}:zh-Hans"),
        ("message_text.update", f"{key}:zh-Hans"),
        ("message_text.reset", f"{key}:zh-Hans"),
    ]
    assert rows[0].before == {"msgid": CHECKOUT, "text": None}
    assert rows[1].before["text"] == MINE["zh-Hans"]
    assert rows[1].after["text"] == MINE["zh-Hans"] + "谢谢！"
    assert rows[2].after["text"] is None and rows[0].actor_kind == "cli"


@pytest.fixture
def statements() -> Iterator[list[str]]:
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def test_a_checkout_with_no_overrides_costs_no_extra_statement(
    app: Any, api: Any, make_member: Callable[..., Any], statements: list[str]
) -> None:
    card = member_cards(make_member("+8613800138000"))[0].number
    _recharge_and_checkout(api, card, "warm")  # the overrides are read once here
    source = app.extensions.pop(OVERRIDES_EXTENSION)
    statements.clear()
    _checkout(api, card, "without")
    without = len(statements)
    app.extensions[OVERRIDES_EXTENSION] = source
    statements.clear()

    _checkout(api, card, "with")

    assert len(statements) == without
    assert not [s for s in statements if "message_text" in s]
    assert len(_alerts()) == 4


def test_overrides_are_read_again_once_the_cache_is_old(
    app: Any, api: Any, make_member: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    member = make_member("+8613800138000", language="en")
    card = member_cards(member)[0].number
    _recharge_and_checkout(api, card, "warm")
    # Another process saves: this one's copy is not told, and keeps it CACHE_SECONDS.
    db.session.add(
        MessageText(
            msgid_key=msgid_key(CHECKOUT),
            msgid=CHECKOUT,
            language="en",
            text=MINE["en"],
            updated_by="another process",
        )
    )
    db.session.flush()
    _checkout(api, card, "cached")
    assert "spent 12.50 yuan" in _alerts()[-1]

    now = kept_module.time.monotonic()
    monkeypatch.setattr(kept_module.time, "monotonic", lambda: now + services.CACHE_SECONDS + 1)
    _checkout(api, card, "fresh")

    assert _alerts()[-1].startswith("Laoyou: card ")


def test_bot_replies_read_the_overrides_once_not_per_message(
    make_member: Callable[..., Any], statements: list[str]
) -> None:
    make_member("+8613800138000")
    services.invalidate()  # a process that has not answered anyone yet
    statements.clear()

    first = _ask("JF")
    cold = [s for s in statements if "message_text" in s]
    statements.clear()
    again = [_ask("JF"), _ask("JF")]

    assert len(cold) == 1
    assert not [s for s in statements if "message_text" in s]
    assert again == [first, first]
