"""``laoyou member show REF``: a member as the counter would see them."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from app.cli import local_minute
from app.errors import NotFound
from app.ledger.balances import member_balances
from app.members.services import birthday_text, member_cards, resolve_member
from app.money import yuan


@click.group("member", help="Members.")
def member_group() -> None:
    pass


@member_group.command("show", help="A member by phone (any format), card number or card medium.")
@click.argument("ref")
@with_appcontext
def show(ref: str) -> None:
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
    bal = member_balances(member.id)
    click.echo(
        f"balances: points {bal.points}, stored value {yuan(bal.stored_value_fen)} yuan, "
        f"visits {bal.visits}"
    )
    click.echo("cards:")
    for card in member_cards(member):
        primary = "  primary" if card.is_primary else ""
        click.echo(f"  {card.number}  {card.type:<12} {card.state}{primary}")
