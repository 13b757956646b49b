"""Card types and states as staff read them, in the request's language (the panel's pages,
the reports): one list, so a type is never named two ways."""

from __future__ import annotations

from app.i18n import gettext


def card_type_labels() -> dict[str, str]:
    return {
        "points": gettext("Points card"),
        "stored_value": gettext("Stored value card"),
        "count": gettext("Count card"),
        "period": gettext("Period card"),
        "gift": gettext("Gift card"),
    }


def card_state_labels() -> dict[str, str]:
    return {
        "active": gettext("Active"),
        "lost": gettext("Reported lost"),
        "frozen": gettext("Frozen"),
        "cancelled": gettext("Cancelled"),
        "expired": gettext("Expired"),
    }
