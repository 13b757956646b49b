"""``laoyou ledger check`` and ``laoyou ledger expire --as-of DATE``."""

from __future__ import annotations

import datetime as dt
import getpass
import os
import sys
import uuid
from pathlib import Path
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


def cli_actor() -> str:
    """``cli:<os user>``: who ran the command, as the journal and the audit log name them."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry and no LOGNAME/USER: a bare container
        user = "unknown"
    return f"cli:{user}"[:64]


KEY_HELP = (
    "Idempotency key: running the command again with the same key and arguments changes "
    "nothing (default: a new random key)."
)


@ledger_group.command("adjust")
@click.argument("card_ref", metavar="CARD")
@click.option("--points", type=int, default=0, help="Points to add (negative: to take).")
@click.option(
    "--stored-value-fen",
    "stored_value_fen",
    type=int,
    default=0,
    help="Stored value to add, in fen (negative: to take; 1 yuan = 100).",
)
@click.option("--reason", required=True, help="Why: kept with the transaction.")
@click.option("--key", default=None, help=KEY_HELP)
def adjust_command(
    card_ref: str, points: int, stored_value_fen: int, reason: str, key: str | None
) -> None:
    """Adjust a card's points or stored value by hand, with a reason (a ledger transaction)."""
    from app.cards.services import resolve_card
    from app.ledger.adjustments import adjust

    if not points and not stored_value_fen:
        raise click.UsageError("give --points or --stored-value-fen (not zero)")
    with cli_unit_of_work():
        card = resolve_card(card_ref)
        result = adjust(
            card,
            points=points,
            stored_value_fen=stored_value_fen,
            reason=reason,
            actor=cli_actor(),
            key=key or uuid.uuid4().hex,
        )
        number = card.number
    b = result.balances
    click.echo(
        f"{'already adjusted' if result.replayed else 'adjusted'} card {number}: "
        f"points {result.points:+d}, stored value {yuan(result.stored_value_fen)} yuan "
        f"(transaction {result.transaction_id}); now points {b.points}, "
        f"stored value {yuan(b.stored_value_fen)} yuan"
    )


@click.command("return")
@click.argument("card_ref", metavar="CARD")
@click.option("--reason", required=True, help="Why the member returns the card.")
@click.option("--key", default=None, help=KEY_HELP)
def return_command(card_ref: str, reason: str, key: str | None) -> None:
    """Return a card (退卡): refund its paid stored value, forfeit bonus value, cancel it."""
    from app.cards.services import resolve_card
    from app.ledger.adjustments import return_card

    with cli_unit_of_work():
        card = resolve_card(card_ref)
        result = return_card(card, reason=reason, actor=cli_actor(), key=key or uuid.uuid4().hex)
        number = card.number
    points = (
        f"points {result.points_moved} moved to card {result.points_moved_to}"
        if result.points_moved_to
        else f"points forfeited {result.points_forfeited}"
    )
    click.echo(
        f"card {number} {'was already returned' if result.replayed else 'returned'} "
        f"(transaction {result.transaction_id}): refund {yuan(result.refunded_fen)} yuan; "
        f"bonus forfeited {yuan(result.bonus_forfeited_fen)} yuan; "
        f"{points}; "
        f"visits forfeited {result.visits_forfeited}"
    )


@click.command("import")
@click.argument("path", metavar="FILE.csv", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check and report every row; write nothing.")
def import_command(path: Path, dry_run: bool) -> None:
    """Import members, their cards and opening balances from a CSV file (UTF-8 or GBK).

    Importing the same file again changes nothing. Exit 1 when any row was refused (the
    others are imported).
    """
    from app.ledger.member_csv import import_members

    try:
        source = path.open("rb")
    except OSError as exc:
        raise click.ClickException(f"cannot read {path}: {exc.strerror}") from exc
    with source, cli_unit_of_work():
        report = import_members(source, actor=cli_actor(), dry_run=dry_run)
    for refusal in report.refusals:
        who = " ".join(p for p in (refusal.phone, refusal.card_number) if p)
        click.echo(f"line {refusal.line}{f' ({who})' if who else ''}: {refusal.message}")
    if report.refused > len(report.refusals):
        click.echo(f"... and {report.refused - len(report.refusals)} more refused rows")
    click.echo(("dry run, nothing written: " if dry_run else "") + report.summary())
    if report.refused:
        sys.exit(1)


@click.command("export")
@click.argument("path", metavar="FILE.csv", type=click.Path(dir_okay=False, path_type=Path))
def export_command(path: Path) -> None:
    """Export every member with their cards and balances as CSV (UTF-8 with BOM, for Excel),
    in the format import reads. The file must not exist yet; only its owner may read it."""
    from app.ledger.member_csv import export_members

    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise click.UsageError(f"{path} already exists; choose another file") from None
    except OSError as exc:
        raise click.ClickException(f"cannot write {path}: {exc.strerror}") from exc
    with open(fd, "w", encoding="utf-8-sig", newline="") as out, cli_unit_of_work():
        rows, members = export_members(out)
    click.echo(f"exported {members} members in {rows} rows to {path}")


def balances_line(subject: Card | Member, **_: Any) -> str:
    """The balances line of ``laoyou cards show`` and ``laoyou member show``."""
    bal = card_balances(subject.id) if isinstance(subject, Card) else member_balances(subject.id)
    return (
        f"balances: points {bal.points}, stored value {yuan(bal.stored_value_fen)} yuan, "
        f"visits {bal.visits}"
    )
