"""Alerts like a bank card's, written to the outbox in the posting's own transaction.

Receivers of ``app.signals`` run inside the ledger's transaction, so an alert
exists if and only if the posting committed. Texts are gettext msgids in
English, rendered in the member's language. Every alert is queued by
``app.messaging.services.enqueue``, which also applies the alert switches.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import current_app

from app import clock
from app.i18n import gettext, in_language, render
from app.members.wechat import alert_addresses
from app.messaging.services import enqueue
from app.money import yuan
from app.signals import card_expiring, level_changed, points_expiring, transaction_posted

log = logging.getLogger("laoyou.alerts")

#: Postings a member hears about; expiry, transfers and adjustments have their own notices.
ALERTED_KINDS = ("checkout", "recharge", "refund")


def _when(transaction: Any) -> str:
    moment = clock.to_local(getattr(transaction, "created_at", None) or clock.now())
    # Not strftime: it costs more than the rest of the alert's formatting together.
    return f"{moment.month:02d}-{moment.day:02d} {moment.hour:02d}:{moment.minute:02d}"


def _store_name(store: Any) -> str:
    return getattr(store, "name", None) or getattr(store, "code", None) or "-"


def N_(msgid: str) -> str:  # the marker name pybabel extracts by default
    """Marks a msgid for extraction; it is translated where it is rendered."""
    return msgid


#: The alert of each posting kind (gettext msgids).
TRANSACTION_TEXTS = {
    "checkout": N_(
        "Card *%(last4)s: spent %(amount)s yuan at %(store)s, %(time)s. "
        "Balance %(balance)s yuan. Points %(points)s (total %(points_total)s)."
    ),
    "recharge": N_(
        "Card *%(last4)s: recharged %(amount)s yuan at %(store)s, %(time)s. "
        "Balance %(balance)s yuan."
    ),
    "refund": N_(
        "Card *%(last4)s: refund of %(amount)s yuan at %(store)s, %(time)s. "
        "Balance %(balance)s yuan. Points %(points)s (total %(points_total)s)."
    ),
    # A count card's checkout moves visits, not money: "spent 0.00 yuan" would mislead.
    "visits": N_(
        "Card *%(last4)s: %(visits)s visit(s) used at %(store)s, %(time)s. "
        "%(visits_left)s visit(s) left."
    ),
}


#: Added to a checkout's alert when promotions applied (names in the member's language).
PROMOTIONS_TEXT = N_("Promotion applied: %(names)s.")


def _with_promotions(body: str, transaction: Any, language: str) -> str:
    """The checkout's alert, and which promotions it got (``details.promotions``)."""
    details = getattr(transaction, "details", None) or {}
    applied = details.get("promotions") if isinstance(details, dict) else None
    if not applied:
        return body
    chinese = language.startswith("zh")
    names = ("、" if chinese else ", ").join(
        str(p.get("names", {}).get(language) or p.get("id")) for p in applied
    )
    line = render(language, PROMOTIONS_TEXT, {"names": names})
    return body + ("" if chinese else " ") + line


def transaction_text(kind: str, *, language: str | None = None, **values: Any) -> str:
    """The alert for one posting, in ``language`` (default: the current gettext language)."""
    msgid = TRANSACTION_TEXTS.get(kind, TRANSACTION_TEXTS["refund"])
    if language is None:
        return str(gettext(msgid, **values))
    # Not in_language: entering it on every alert cost more than the rest of the receiver.
    return render(language, msgid, values)


def on_transaction_posted(transaction: Any, **kw: Any) -> None:
    try:
        _transaction_alerts(transaction, **kw)
    except Exception:
        # An alert must never cost the member their checkout; a failed alert is logged.
        log.exception("transaction alert for %s not written", getattr(transaction, "id", None))


def _transaction_alerts(transaction: Any, **kw: Any) -> None:
    kind = kw.get("kind")
    member = kw.get("member")
    card = kw.get("card")
    balances = kw.get("balances")
    if kind not in ALERTED_KINDS or member is None or card is None or balances is None:
        return
    txn_id = getattr(transaction, "id", None)
    amount_fen = int(kw.get("amount_fen") or 0)
    points = int(kw.get("points_delta") or 0)
    values = {
        "last4": card.number[-4:],
        "amount": yuan(amount_fen),
        "store": _store_name(kw.get("store")),
        "time": _when(transaction),
        "balance": yuan(balances.stored_value_fen),
        # Signed, as the net change: a points offset larger than the points earned is -88.
        "points": f"{points:+d}",
        "points_total": balances.points,
    }
    visits_used = -int(kw.get("visits_delta") or 0)
    if kind == "checkout" and visits_used > 0 and not amount_fen:
        values.update(visits=visits_used, visits_left=balances.visits)
        kind_text = "visits"
    else:
        kind_text = kind
    body = transaction_text(kind_text, language=member.language, **values)
    if kind_text == "checkout":
        body = _with_promotions(body, transaction, member.language)
    _alert(member, body, "transaction", f"alert:transaction:{txn_id}" if txn_id else None)
    _low_balance(transaction, kind, member, card, balances, amount_fen, values)


def _low_balance(
    transaction: Any,
    kind: str,
    member: Any,
    card: Any,
    balances: Any,
    amount_fen: int,
    values: dict[str, Any],
) -> None:
    """Once, when a stored-value payment takes the balance from at/above the threshold to under."""
    if kind != "checkout":
        return
    details = getattr(transaction, "details", None) or {}
    if "stored_value_fen" in details:  # a split tender: the card paid only its part
        amount_fen = int(details["stored_value_fen"])
    elif details.get("pay_with", "stored_value") != "stored_value":
        return
    threshold = current_app.config["LOW_BALANCE_ALERT_FEN"]
    after = balances.stored_value_fen
    if not (after < threshold <= after + amount_fen):
        return
    with in_language(member.language):
        body = str(
            gettext(
                "Card *%(last4)s: your balance is %(balance)s yuan, under %(threshold)s yuan. "
                "Recharge at any of our stores.",
                last4=values["last4"],
                balance=values["balance"],
                threshold=yuan(threshold),
            )
        )
    txn_id = getattr(transaction, "id", None)
    _alert(member, body, "low_balance", f"alert:low_balance:{txn_id}" if txn_id else None)


def on_level_changed(member: Any, **kw: Any) -> None:
    try:
        _level_alert(member, **kw)
    except Exception:
        log.exception("level alert for member %s not written", getattr(member, "id", None))


def _level_alert(member: Any, **kw: Any) -> None:
    new_level = kw.get("new_level")
    if kw.get("reason") != "upgrade" or new_level is None:
        return
    with in_language(member.language):
        body = str(
            gettext(
                "Congratulations! You are now a %(level)s member. "
                "Enjoy your new benefits at every store.",
                level=new_level.name_in(member.language),
            )
        )
    at = clock.now().strftime("%Y%m%d%H%M%S")
    transaction_id = kw.get("transaction_id")
    _alert(member, body, "level", f"alert:level:{member.id}:{new_level.id}:{transaction_id or at}")


def on_points_expiring(card: Any, **kw: Any) -> None:
    try:
        _points_expiring_alert(card, **kw)
    except Exception:
        log.exception("points-expiring alert for card %s not written", getattr(card, "id", None))


def _points_expiring_alert(card: Any, **kw: Any) -> None:
    member = kw.get("member")
    points = int(kw.get("points") or 0)
    expires_on = kw.get("expires_on")
    if member is None or points <= 0 or expires_on is None:
        return
    with in_language(member.language):
        body = str(
            gettext(
                "Card *%(last4)s: %(points)s points expire after %(day)s. "
                "Use them at any of our stores before then.",
                last4=card.number[-4:],
                points=points,
                day=expires_on.isoformat(),
            )
        )
    # One reminder per card and expiry day, however often the reminder job runs.
    _alert(member, body, "points_expiring", f"alert:points_expiring:{card.id}:{expires_on}")


def on_card_expiring(card: Any, **kw: Any) -> None:
    try:
        _card_expiring_alert(card, **kw)
    except Exception:
        log.exception("card-expiring reminder for card %s not written", getattr(card, "id", None))


#: The validity reminder of each card type (gettext msgids); any other type is a
#: membership card with a term (a paid annual membership, a stored-value card with an end).
VALIDITY_TEXTS = {
    "period": N_(
        "Card *%(last4)s is valid until %(day)s. Renew it at any of our stores "
        "to keep its benefits."
    ),
    "gift": N_(
        "Your gift card *%(last4)s expires on %(day)s. "
        "Use its balance at any of our stores before then."
    ),
    "membership": N_(
        "Your membership card *%(last4)s expires on %(day)s. "
        "Renew it at any of our stores to keep its benefits."
    ),
}


def _card_expiring_alert(card: Any, **kw: Any) -> None:
    member = kw.get("member")
    valid_until = kw.get("valid_until")
    if member is None or valid_until is None:
        return
    msgid = VALIDITY_TEXTS.get(getattr(card, "type", ""), VALIDITY_TEXTS["membership"])
    values = {"last4": card.number[-4:], "day": valid_until.isoformat()}
    body = render(member.language, msgid, values)
    # One reminder per card and last day; no alert type of its own (so no switch yet):
    # it is a notice about the member's own card, and an opt-out still stops it.
    _alert(member, body, None, f"alert:card_expiring:{card.id}:{valid_until}")


def _alert(member: Any, body: str, alert_type: str | None, dedupe_key: str | None) -> None:
    """Queue one alert on each channel the member gets alerts on (WeChat, SMS or both)."""
    for channel, address in alert_addresses(member):
        key = dedupe_key if dedupe_key is None or channel == "sms" else f"{dedupe_key}:{channel}"
        enqueue(
            address=address,
            body=body,
            kind="alert",
            alert_type=alert_type,
            language=member.language,
            member=member,
            channel=channel,
            dedupe_key=key,
        )


def connect() -> None:
    """Subscribe once per process (blinker holds the functions strongly)."""
    transaction_posted.connect(on_transaction_posted, weak=False)
    level_changed.connect(on_level_changed, weak=False)
    points_expiring.connect(on_points_expiring, weak=False)
    card_expiring.connect(on_card_expiring, weak=False)
