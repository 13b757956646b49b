"""The SMS that carries a WeChat binding code (``phone_code_issued``), queued in the
transaction that made the code: no code row without its message, and the reverse."""

from __future__ import annotations

from typing import Any

from app.i18n import gettext, in_language
from app.messaging.services import enqueue
from app.signals import phone_code_issued


def on_phone_code_issued(
    phone: str,
    *,
    code: str,
    language: str,
    dedupe_key: str,
    minutes: int,
    member: Any = None,
    **_: Any,
) -> None:
    with in_language(language):
        body = gettext(
            "Your code to bind WeChat is %(code)s. It works for %(minutes)s minutes. "
            "Do not share it with anyone.",
            code=code,
            minutes=minutes,
        )
    enqueue(
        address=phone,
        body=body,
        kind="system",
        language=language,
        channel="sms",
        member=member,
        dedupe_key=dedupe_key,
    )


def connect() -> None:
    """Subscribe once per process (blinker holds the function strongly)."""
    phone_code_issued.connect(on_phone_code_issued, weak=False)
