"""``laoyou outbox dispatch|list`` and ``laoyou alerts enable|disable|list``."""

from __future__ import annotations

import signal
import threading
from typing import Any

import click
from flask import current_app
from sqlalchemy import select

from app.cli.support import cli_unit_of_work, echo_table
from app.messaging.models import ALERT_TYPES, STATUSES, OutboxMessage
from app.phone import mask_phone


@click.group("outbox", help="The outbound message queue and its dispatcher.")
def outbox_group() -> None:
    pass


@outbox_group.command("dispatch")
@click.option("--once", "mode", flag_value="once", default=True, help="One batch, then exit.")
@click.option("--loop", "mode", flag_value="loop", help="Keep sending until SIGTERM / Ctrl-C.")
@click.option("--batch", default=20, show_default=True, type=click.IntRange(1, 500))
def dispatch_command(mode: str, batch: int) -> None:
    """Send what is due: rate-limited per sender, retried with back-off, status recorded."""
    from app.cli.db import require_migrated
    from app.messaging.dispatcher import Dispatcher

    stop = threading.Event()
    dispatcher = Dispatcher(current_app._get_current_object(), stop=stop)  # type: ignore[attr-defined]
    if mode == "once":
        click.echo(f"outbox: {dispatcher.run_once(batch)}")
        return

    def _stop(_signum: int, _frame: Any) -> None:
        # Finish the message in flight, give the rest of the batch back, exit.
        stop.set()

    require_migrated()  # the loop retries every failure: an unmigrated database would spin
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    config = current_app.config
    providers = f"SMS {config['SMS_PROVIDER']}, WeChat {config['WECHAT_PROVIDER']}"
    click.echo(f"outbox dispatcher running ({providers}, batch {batch}); Ctrl-C stops")
    total = dispatcher.run_loop(batch)
    click.echo(f"outbox dispatcher stopped: {total}")


@outbox_group.command("list")
@click.option("--status", type=click.Choice(STATUSES), default=None)
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
def list_command(status: str | None, limit: int) -> None:
    """The newest outbox messages (numbers masked)."""
    with cli_unit_of_work() as session:
        query = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)
        if status:
            query = query.where(OutboxMessage.status == status)
        rows: list[tuple[str, ...]] = [
            (
                str(r.id),
                mask_phone(r.address),
                r.kind,
                r.status,
                str(r.attempts),
                (r.body[:40] + "…") if len(r.body) > 40 else r.body,
            )
            for r in session.scalars(query)
        ]
    echo_table(("id", "to", "kind", "status", "tries", "text"), rows)


@click.group("alerts", help="Programme-wide switches for member alerts.")
def alerts_group() -> None:
    pass


@alerts_group.command("disable")
@click.argument("alert_type", type=click.Choice(ALERT_TYPES))
def disable_command(alert_type: str) -> None:
    """Stop sending this alert type to every member."""
    from app.messaging.services import set_programme_alert

    with cli_unit_of_work():
        set_programme_alert(alert_type, False)
    click.echo(f"{alert_type} alerts disabled for the programme")


@alerts_group.command("enable")
@click.argument("alert_type", type=click.Choice(ALERT_TYPES))
def enable_command(alert_type: str) -> None:
    """Send this alert type again (members who switched it off stay off)."""
    from app.messaging.services import set_programme_alert

    with cli_unit_of_work():
        set_programme_alert(alert_type, True)
    click.echo(f"{alert_type} alerts enabled for the programme")


@alerts_group.command("list")
def list_alerts_command() -> None:
    """Each alert type and whether the programme sends it."""
    from app.messaging.services import programme_alerts

    with cli_unit_of_work():
        settings = programme_alerts()
    echo_table(("alert", "programme"), [(k, "on" if v else "off") for k, v in settings.items()])
