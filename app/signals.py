"""Domain events, so that packages react to each other without importing each other.

Receivers run inside the sender's database transaction: a receiver that writes
(an outbox row for an alert, say) commits or rolls back with the event itself.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

#: sender: the Member; kwargs: card (its first Card or None)
member_joined = _signals.signal("member-joined")
#: sender: the Card; kwargs: action, from_state, to_state, new_card (replace only)
card_state_changed = _signals.signal("card-state-changed")
