"""Phone numbers: parsed with ``phonenumbers``, stored as E.164, masked in logs."""

from __future__ import annotations

import phonenumbers
from flask import current_app, has_app_context

from app.errors import InvalidRequest


def default_region() -> str:
    if has_app_context():
        return current_app.config["DEFAULT_PHONE_REGION"]
    return "CN"


def parse_phone(text: str, region: str | None = None) -> str:
    """Return E.164 for a number as people write it, or raise ``InvalidRequest``.

    ``13800138000``, ``+86 138 0013 8000`` and ``008613800138000`` all give
    ``+8613800138000`` with the default region CN.
    """
    candidate = normalise_phone(text, region)
    if candidate is None:
        raise InvalidRequest(f"not a valid phone number: {text!r}", field="phone")
    return candidate


def normalise_phone(text: str, region: str | None = None) -> str | None:
    """E.164 for a valid number, None otherwise (for lookups that try several readings)."""
    raw = (text or "").strip()
    if not raw or len(raw) > 32:
        return None
    region = region or default_region()
    # "00" is the international prefix in China and most of the world; phonenumbers
    # only reads it as such when told the caller's region, so try it explicitly too.
    attempts = [raw]
    if raw.startswith("00"):
        attempts.append("+" + raw[2:])
    for attempt in attempts:
        try:
            number = phonenumbers.parse(attempt, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return None


def mask_phone(e164: str) -> str:
    """``+8613800138000`` → ``+86138****8000``: enough to tell numbers apart in a log."""
    if len(e164) <= 7:
        return "*" * len(e164)
    return e164[:-8] + "****" + e164[-4:]
