"""Domain events, so that packages react to each other without importing each other.

Receivers run inside the sender's database transaction: a receiver that writes
(an outbox row for an alert, say) commits or rolls back with the event itself.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

#: sender: the Member; kwargs: card (its first Card or None). Sent by cards.services.enroll.
member_joined = _signals.signal("member-joined")
#: sender: the Member; kwargs: action ("create" or "update"), before (dict | None: the
#: profile before, None on create), after (dict). Sent by members.services (the audit log).
member_changed = _signals.signal("member-changed")
#: sender: the Card; kwargs: action, from_state, to_state, new_card (replace only), reason
card_state_changed = _signals.signal("card-state-changed")

#: sender: the ledger Transaction just posted (checkout, recharge, refund, redemption,
#: expiry, transfer, adjustment, return, opening); kwargs: kind (str), card (Card),
#: member (Member | None), amount_fen (int: money charged, recharged or refunded; 0 when
#: none), points_delta (int),
#: visits_delta (int: count-card visits moved, negative when used),
#: balances (app.ledger.balances.Balances after), store (Store | None). Receivers run in
#: the posting's transaction: alerts written to the outbox commit with the posting.
transaction_posted = _signals.signal("transaction-posted")
#: sender: the Member; kwargs: old_level (Level | None), new_level (Level | None),
#: transaction_id (int | None), reason (str: "upgrade", "downgrade", "refund")
level_changed = _signals.signal("level-changed")
#: sender: a Card whose points expire soon; kwargs: member (Member), points (int: what
#: expires on that day), expires_on (date: the last day they can be used). Sent by
#: ``app.ledger.expiry.remind_expiring`` (messaging queues the reminder).
points_expiring = _signals.signal("points-expiring")

#: sender: a Card ``laoyou cards issue`` just issued with a preloaded value; kwargs:
#: value_fen (int), visits (int), idempotency_key (str), actor (str | None). The ledger
#: posts the value in the same transaction (cards do not import the ledger).
card_issued_with_value = _signals.signal("card-issued-with-value")
#: sender: the Card or Member ``laoyou cards show`` / ``laoyou member show`` prints; each
#: receiver returns one more line to print (the ledger: the balances).
shown_in_cli = _signals.signal("shown-in-cli")
#: sender: the list of Stores ``laoyou store list`` prints; each receiver returns one more
#: column, ``(header, {store id: text})`` (members: how many members call the store home).
store_columns = _signals.signal("store-columns")
#: sender: the E.164 phone a WeChat binding code goes to; kwargs: code (str, six digits),
#: language (str), member (Member | None: the phone's member), dedupe_key (str, one per
#: code), minutes (int: how long it works). Sent by app.members.wechat; app.messaging
#: queues the SMS in the same transaction (members do not import messaging).
phone_code_issued = _signals.signal("phone-code-issued")
#: sender: the nightly ledger check's report (``app.ledger.check.CheckReport``) when it
#: found problems; kwargs: run_key (str: the job run's key, one alert per run), problems
#: (int). Messaging queues an SMS to each of ``ADMIN_ALERT_PHONES`` in the job's
#: transaction (the ledger does not import messaging).
ledger_check_failed = _signals.signal("ledger-check-failed")
#: sender: a member's active Card whose validity (a period card: 月卡 / 季卡 / 年卡, or any
#: card with ``valid_until``) ends soon; kwargs: member (Member), valid_until (date: its
#: last valid day). Sent by ``app.cards.validity.remind_validity_ending`` (the scheduler's
#: ``card_validity_reminders`` job); messaging queues the reminder.
card_expiring = _signals.signal("card-expiring")
#: sender: the Member to tell; kwargs: msgid (str: an English gettext msgid, marked N_ by
#: the sender), values (Mapping: its placeholders), channel (str: the channel the member
#: used, ``sms``, ``wechat`` or ``simulator``), dedupe_key (str: one message per key).
#: Sent by app.campaigns (vote results, draw results, a cancelled draw's refund);
#: app.messaging renders it in the member's language and queues it on that channel (WeChat
#: while bound, else SMS) in the sender's transaction (campaigns do not import messaging).
member_notice = _signals.signal("member-notice")
