"""Card states and the only transitions allowed between them."""

from __future__ import annotations

from app.errors import IllegalTransition

#: action -> (states it may start from, state it leads to)
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "report-lost": (frozenset({"active", "frozen"}), "lost"),
    "found": (frozenset({"lost"}), "active"),
    "freeze": (frozenset({"active"}), "frozen"),
    "unfreeze": (frozenset({"frozen"}), "active"),
    "cancel": (frozenset({"active", "lost", "frozen", "expired"}), "cancelled"),
    # Replacing retires the old card; the new one starts active.
    "replace": (frozenset({"active", "lost"}), "cancelled"),
    "expire": (frozenset({"active"}), "expired"),
    "renew": (frozenset({"expired"}), "active"),
}

ACTIONS = tuple(TRANSITIONS)

#: What each action does, for refusals: "cannot mark as found a card that is active".
ACTION_PHRASES = {
    "report-lost": "report as lost",
    "found": "mark as found",
    "freeze": "freeze",
    "unfreeze": "unfreeze",
    "cancel": "cancel",
    "replace": "replace",
    "expire": "expire",
    "renew": "renew",
}
#: A state as an adjective: "a card that is reported lost".
STATE_PHRASES = {"lost": "reported lost"}


def next_state(action: str, current: str) -> str:
    try:
        allowed, target = TRANSITIONS[action]
    except KeyError:
        raise IllegalTransition(f"unknown card action {action!r}", action=action) from None
    if current not in allowed:
        raise IllegalTransition(
            f"cannot {ACTION_PHRASES[action]} a card that is {STATE_PHRASES.get(current, current)}",
            action=action,
            state=current,
            allowed_from=sorted(allowed),
        )
    return target
