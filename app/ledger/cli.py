"""``laoyou ledger check`` and ``laoyou ledger expire --as-of DATE``."""

from __future__ import annotations

import datetime as dt
import sys
from typing import Any

import click
from flask.cli import AppGroup

from app.cards.models import Card
from app.cli.support import cli_unit_of_work
from app.ledger.balances import card_balances, member_balances
from app.members.models import Member
from app.money import yuan


@click.group("ledger", cls=AppGroup)
def ledger_group() -> None:
    """The points and money journal: audit it, expire points."""


@ledger_group.command("check")
def check_command() -> None:
    """Recompute every balance and sum from the lines; exit 1 on any mismatch."""
    from app.ledger.check import run_check

    report = run_check()
    for problem in report.problems:
        click.echo(f"MISMATCH {problem}")
    click.echo(report.summary())
    if not report.ok:
        sys.exit(1)


@ledger_group.command("expire")
@click.option(
    "--as-of",
    "as_of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Expire lots whose last valid day is before this date (default: today, local time).",
)
def expire_command(as_of: dt.datetime | None) -> None:
    """Move expired points lots to breakage; a repeated run for the same date changes nothing."""
    from app.clock import local_today
    from app.ledger.expiry import expire_lots

    day = as_of.date() if as_of is not None else local_today()
    with cli_unit_of_work():
        report = expire_lots(day)
    click.echo(
        f"expired {report.points} points in {report.lots} lots on {report.cards} cards "
        f"as of {day.isoformat()}"
        + (f" ({report.already_done} cards already done)" if report.already_done else "")
    )


@ledger_group.command("remind-expiring")
@click.option(
    "--as-of",
    "as_of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="The day to look ahead from (default: today, local time).",
)
@click.option(
    "--days", type=click.IntRange(1, 366), default=30, show_default=True, help="Days ahead."
)
def remind_expiring_command(as_of: dt.datetime | None, days: int) -> None:
    """Remind members of points expiring soon; a repeated run sends nothing twice."""
    from app.clock import local_today
    from app.ledger.expiry import remind_expiring

    day = as_of.date() if as_of is not None else local_today()
    with cli_unit_of_work():
        cards = remind_expiring(day, days=days)
    click.echo(f"points expiring within {days} days of {day.isoformat()}: {cards} cards reminded")


def balances_line(subject: Card | Member, **_: Any) -> str:
    """The balances line of ``laoyou cards show`` and ``laoyou member show``."""
    bal = card_balances(subject.id) if isinstance(subject, Card) else member_balances(subject.id)
    return (
        f"balances: points {bal.points}, stored value {yuan(bal.stored_value_fen)} yuan, "
        f"visits {bal.visits}"
    )
