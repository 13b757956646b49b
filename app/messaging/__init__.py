"""Everything that leaves Laoyou as a message: the outbox, its dispatcher, alerts.

Channel adapters (``app/sms``, later WeChat) use ``inbound.receive`` for what
comes in and ``services.enqueue`` for what goes out.
"""

from __future__ import annotations

from types import SimpleNamespace

from flask import Flask

#: Where ``init_app`` leaves the outbox's services for packages that cannot import messaging.
OUTBOX_EXTENSION = "laoyou.outbox"


def init_app(app: Flask) -> None:
    from app.jobs import register_job
    from app.ledger.rules.io import RulesPart, register_part
    from app.messaging import alerts, codes, jobs, notices
    from app.messaging.cli import alerts_group, outbox_group
    from app.messaging.dispatcher import run_in_app_context
    from app.messaging.services import (
        check_quiet_hours,
        forget_quiet_hours,
        saved_quiet_hours,
        set_quiet_hours,
    )
    from app.signals import ledger_check_failed

    alerts.connect()
    codes.connect()
    notices.connect()
    app.cli.add_command(outbox_group)
    app.cli.add_command(alerts_group)
    # ``laoyou run --with-dispatcher`` runs this loop; the CLI imports no package.
    app.extensions["laoyou.outbox_loop"] = run_in_app_context
    # The quiet hours travel in `laoyou rules export` / `import`, written by our service.
    register_part(
        app,
        "quiet_hours",
        RulesPart(
            export=saved_quiet_hours,
            check=check_quiet_hours,
            apply=lambda hours: set_quiet_hours(hours, audited=False),
            reset=forget_quiet_hours,
        ),
    )
    ledger_check_failed.connect(jobs.on_ledger_check_failed, weak=False)
    for job in jobs.JOBS:
        register_job(app, job)
    # Campaigns queue greetings and broadcasts but may not import messaging (messaging runs
    # the bot, whose commands call campaigns): they are handed the outbox's services.
    app.extensions[OUTBOX_EXTENSION] = outbox_services()


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
