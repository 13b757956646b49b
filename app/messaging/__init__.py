"""Everything that leaves Laoyou as a message: the outbox, its dispatcher, alerts.

Channel adapters (``app/sms``, later WeChat) use ``inbound.receive`` for what
comes in and ``services.enqueue`` for what goes out.
"""

from __future__ import annotations

from types import SimpleNamespace

from flask import Flask


def init_app(app: Flask) -> None:
    from app.messaging import alerts, codes
    from app.messaging.cli import alerts_group, outbox_group
    from app.messaging.dispatcher import run_in_app_context

    alerts.connect()
    codes.connect()
    app.cli.add_command(outbox_group)
    app.cli.add_command(alerts_group)
    # ``laoyou run --with-dispatcher`` runs this loop; the CLI imports no package.
    app.extensions["laoyou.outbox_loop"] = run_in_app_context
    # Campaigns queue greetings and broadcasts but may not import messaging (messaging runs
    # the bot, whose commands call campaigns): they are handed the outbox's services.
    app.extensions[OUTBOX_EXTENSION] = outbox_services()


#: Where ``init_app`` leaves ``OutboxServices`` for packages that cannot import messaging.
OUTBOX_EXTENSION = "laoyou.outbox"


def outbox_services() -> object:
    from app.messaging.compose import quiet_until
    from app.messaging.services import (
        broadcast_message_counts,
        cancel_broadcast_messages,
        enqueue,
        enqueue_many,
    )

    return SimpleNamespace(
        enqueue=enqueue,
        enqueue_many=enqueue_many,
        cancel_broadcast_messages=cancel_broadcast_messages,
        broadcast_message_counts=broadcast_message_counts,
        quiet_until=quiet_until,
    )
