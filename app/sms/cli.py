"""``laoyou sms simulate PHONE TEXT``: be any phone, see the reply and what the message queued."""

from __future__ import annotations

import click

from app.cli.support import cli_unit_of_work


@click.group("sms", help="SMS channel tools.")
def sms_group() -> None:
    pass


@sms_group.command("simulate")
@click.argument("phone")
@click.argument("text")
def simulate_command(phone: str, text: str) -> None:
    """Send TEXT as PHONE through the real engine (committed); print the reply and what
    this message queued (``laoyou outbox list`` shows the whole queue)."""
    from app.sms.simulator import simulate

    with cli_unit_of_work():
        exchange = simulate(phone, text)
    click.echo(exchange.reply if not exchange.silent else "(no reply)")
    if exchange.queued:
        click.echo("")
        click.echo("queued by this message:")
        for row in exchange.queued:
            to = "" if row["address"] == exchange.phone else f" to {row['address']}"
            click.echo(f"  #{row['id']} {row['kind']}{to} {row['status']}: {row['text']}")
