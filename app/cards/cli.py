"""``laoyou cards …``: issue batches of anonymous cards, look at one card; and
``laoyou member show REF``, a member (found by phone or any card) as the counter sees them."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import click
from flask.cli import with_appcontext

from app.cards.batches import MAX_BATCH, MONEY_TYPES, Batch, issue_batch
from app.cards.models import CARD_TYPES, Card
from app.cards.services import (
    PERIODS,
    card_history,
    find_card,
    get_card,
    member_cards,
    resolve_member,
)
from app.cli.support import cli_unit_of_work, local_minute
from app.db import db
from app.errors import NotFound
from app.members.services import birthday_text
from app.money import yuan
from app.signals import shown_in_cli

ACTOR = "cli"


@click.group("cards", help="Cards: issue batches, show one.")
def cards_group() -> None:
    pass


@cards_group.command("issue", help="Issue a batch of anonymous cards and write them to a CSV file.")
@click.option("--type", "card_type", required=True, type=click.Choice(CARD_TYPES))
@click.option("--count", required=True, type=click.IntRange(1, MAX_BATCH), help="How many cards.")
@click.option(
    "--value-cents",
    "value_fen",
    default=0,
    type=click.IntRange(min=0),
    help="Value preloaded on each card, in fen (1 yuan = 100); gift and stored_value only.",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="CSV file to write; it must not exist yet (it may hold PINs).",
)
@click.option("--store", "store_code", default=None, help="Store that issues the cards.")
@click.option(
    "--period",
    type=click.Choice(tuple(PERIODS)),
    default=None,
    help="Period cards: how long each runs from today.",
)
@click.option(
    "--visits",
    default=0,
    type=click.IntRange(min=0),
    help="Visits preloaded on each count card.",
)
@click.option(
    "--pins/--no-pins",
    default=None,
    help="Give every card a random 6-digit PIN (in the CSV). Gift cards get PINs unless "
    "--no-pins: an anonymous card holding value must not be claimable by its number alone.",
)
@click.option("--qr", is_flag=True, help="Give every card a QR token (in the CSV).")
@with_appcontext
def issue(
    card_type: str,
    count: int,
    value_fen: int,
    out: Path,
    store_code: str | None,
    period: str | None,
    visits: int,
    pins: bool | None,
    qr: bool,
) -> None:
    if value_fen and card_type not in MONEY_TYPES:
        raise click.UsageError(f"--value-cents needs a card type of {' or '.join(MONEY_TYPES)}")
    if visits and card_type != "count":
        raise click.UsageError("--visits is for count cards")
    if card_type == "period" and period is None:
        raise click.UsageError("period cards need --period month, quarter or year")
    if out.exists():
        raise click.UsageError(f"{out} already exists; choose another --out")
    if not out.parent.is_dir():
        raise click.UsageError(f"directory {out.parent} does not exist")
    if pins is None:
        pins = card_type == "gift"
    batch = Batch(card_type, period, value_fen, visits, pins, qr, actor=ACTOR)

    # "x": never overwrite an earlier batch's file (its PINs would be lost for good).
    try:
        fh = out.open("x", newline="", encoding="utf-8")
    except OSError as exc:
        raise click.ClickException(f"cannot write {out}: {exc.strerror}") from exc
    try:
        if pins:
            out.chmod(0o600)
        # fh exits first: the file is complete on disk before the cards are committed.
        with cli_unit_of_work(), fh:
            batch.store = _store(store_code)
            writer = csv.DictWriter(fh, fieldnames=batch.columns())
            writer.writeheader()
            writer.writerows(issue_batch(batch, count))
    except BaseException:
        out.unlink(missing_ok=True)
        raise
    what = f"{count} {card_type} card{'s' if count != 1 else ''}"
    value = f", {yuan(value_fen)} yuan each" if value_fen else ""
    value += f", {visits} visits each" if visits else ""
    click.echo(f"issued {what}{value}; written to {out}")


def _store(code: str | None) -> Any:
    if code is None:
        return None
    from app.stores.services import get_store

    return get_store(code)


@cards_group.command("show", help="A card's state, holder, media, balances and history.")
@click.argument("number")
@with_appcontext
def show(number: str) -> None:
    card = _card(number)
    holder = card.member
    click.echo(f"card {card.number}  {card.type}  {card.state}")
    if holder is None:
        click.echo("holder: anonymous")
    else:
        primary = " (primary: the phone works as this card)" if card.is_primary else ""
        click.echo(f"holder: {holder.name or '-'} {holder.phone}{primary}")
    store = f" at {card.issued_store.code}" if card.issued_store else ""
    click.echo(f"issued: {local_minute(card.issued_at)}{store}")
    if card.valid_from or card.valid_until:
        click.echo(f"valid: {card.valid_from or '…'} to {card.valid_until or '…'}")
    click.echo(f"PIN: {_pin_text(card)}")
    if card.media:
        click.echo("media: " + ", ".join(f"{m.kind} {m.value}" for m in card.media))
    for _, line in shown_in_cli.send(card):
        click.echo(line)
    if card.replaced_by_id is not None:
        new = db.session.get(Card, card.replaced_by_id)
        replacement = new.number if new else str(card.replaced_by_id)
        click.echo(f"replaced by: {replacement} (this number no longer works)")
    click.echo("history:")
    for event in card_history(card):
        moved = f"{event.from_state or ''} → {event.to_state}".strip()
        extra = "  ".join(x for x in (event.actor, event.reason) if x)
        click.echo(f"  {local_minute(event.at)}  {event.action:<12} {moved}  {extra}".rstrip())


def _card(ref: str) -> Card:
    """The exact number first (a replaced card still shows its history), then phone or medium."""
    try:
        return get_card(ref)
    except NotFound:
        card = find_card(ref)
    if card is None:
        raise click.ClickException(f"no card matches {ref!r}")
    return card


def _pin_text(card: Card) -> str:
    if card.pin_hash is None:
        return "none"
    from app.clock import now

    if card.pin_locked_until is not None and card.pin_locked_until > now():
        return f"set, locked until {local_minute(card.pin_locked_until)}"
    failures = f" ({card.pin_failures} wrong attempt(s))" if card.pin_failures else ""
    return "set" + failures


@click.command("show", help="A member by phone (any format), card number or card medium.")
@click.argument("ref")
@with_appcontext
def member_show(ref: str) -> None:
    try:
        member = resolve_member(ref)
    except NotFound as exc:
        raise click.ClickException(exc.message) from exc
    level = member.level.name if member.level else "-"
    click.echo(f"member {member.id}: {member.name or '-'}  {member.phone}  level {level}")
    click.echo(
        f"home store: {member.home_store.code} {member.home_store.name}  "
        f"joined {local_minute(member.joined_at)}"
    )
    birthday = birthday_text(member)
    if birthday:
        kind = member.birthday_calendar
        if member.lunar_leap_month:
            kind += ", leap month"
        click.echo(f"birthday: {birthday} ({kind})")
    click.echo(f"language: {member.language}  gender: {member.gender}")
    details = [
        ("region", member.region),
        ("occupation", member.occupation),
        ("income band", member.income_band),
        ("tags", ", ".join(member.tags or [])),
        ("referred by", member.referrer.phone if member.referrer else None),
    ]
    for label, value in details:
        if value:
            click.echo(f"{label}: {value}")
    for key, answer in sorted((member.answers or {}).items()):
        click.echo(f"answer {key}: {answer}")
    opt_outs = [
        name
        for name, flag in (("sms", member.sms_opt_out), ("wechat", member.wechat_opt_out))
        if flag
    ]
    if opt_outs:
        click.echo(f"opted out of: {', '.join(opt_outs)}")
    for _, line in shown_in_cli.send(member):
        click.echo(line)
    click.echo("cards:")
    for card in member_cards(member):
        primary = "  primary" if card.is_primary else ""
        click.echo(f"  {card.number}  {card.type:<12} {card.state}{primary}")
