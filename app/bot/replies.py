"""Texts more than one command or filter sends, and how numbers are written in replies.

Every user-facing text goes through gettext with an English msgid; the caller has
already entered ``in_language(...)``. Dates are ISO (2027-01-31) in every language.
"""

from __future__ import annotations

import phonenumbers
from flask import current_app

from app.i18n import gettext


def join(parts: list[str], language: str) -> str:
    """Sentences side by side: Chinese needs no space after 。, English does."""
    return ("" if language.startswith("zh") else " ").join(p for p in parts if p)


def listing(items: list[str], language: str) -> str:
    """``a, b`` in English, ``a、b`` in Chinese."""
    return ("、" if language.startswith("zh") else ", ").join(items)


def number(value: int) -> str:
    return format(value, ",")


def last4(number_text: str) -> str:
    """The last four digits: messages name a card the way banks do ("card ending 9012")."""
    return number_text[-4:]


def phone_as_card_number(e164: str) -> str:
    """The member's card number as they would type it: national digits at home, E.164 abroad."""
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    region = phonenumbers.region_code_for_number(parsed)
    if region == current_app.config["DEFAULT_PHONE_REGION"]:
        return phonenumbers.national_significant_number(parsed)
    return e164


def how_to_join() -> str:
    return gettext(
        "You are not a member yet. Text JOIN followed by your name to join, then try again."
    )


def how_to_bind() -> str:
    return gettext(
        "This WeChat is not bound to a membership yet. Send BIND followed by your mobile "
        "number (for example BIND 13800138000) to bind it, or JOIN followed by your mobile "
        "number to become a member."
    )


def not_understood(*, member: bool, channel: str = "sms") -> str:
    if channel == "wechat" and not member:
        return gettext(
            "Sorry, we did not understand that. Send BIND followed by your mobile number to "
            "bind your membership, or HELP for the commands."
        )
    if member:
        return gettext("Sorry, we did not understand that. Text HELP for the list of commands.")
    return gettext(
        "Sorry, we did not understand that. Text JOIN followed by your name to become a "
        "member, or HELP for the commands."
    )


def opt_out_hint() -> str:
    return gettext("To stop all messages from us, text STOP on its own.")


def something_went_wrong() -> str:
    return gettext("Sorry, something went wrong. Please try again later.")


def slow_down() -> str:
    return gettext("You are sending messages too quickly. Please wait a minute and try again.")


def bad_input(problem: str) -> str:
    if problem == "too_long":
        return gettext(
            "Your message is too long (at most 1,600 characters). Please send a shorter one."
        )
    if problem == "emoji":
        return gettext("Please send your message again without emoji.")
    if problem == "control":
        return gettext("Your message contains characters we cannot read. Please send plain text.")
    return gettext(
        "Your message mixes letters of different alphabets. Please write in Chinese or "
        "English letters."
    )
