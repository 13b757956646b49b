"""Everything that leaves Laoyou as a message: the outbox, its dispatcher, alerts.

Channel adapters (``app/sms``, later WeChat) use ``inbound.receive`` for what
comes in and ``services.enqueue`` for what goes out.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from app.messaging import alerts

    alerts.connect()
