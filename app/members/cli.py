"""``laoyou member show REF`` (a member as the counter sees them) and ``member questions``."""

from __future__ import annotations

from typing import Any

import click
from flask.cli import with_appcontext

from app.cli.support import cli_unit_of_work, echo_table, local_minute
from app.errors import NotFound
from app.members.services import (
    birthday_text,
    define_question,
    list_questions,
    member_cards,
    members_per_store,
    resolve_member,
    retire_question,
)
from app.signals import shown_in_cli
from app.stores.models import Store


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
    for _, line in shown_in_cli.send(member):
        click.echo(line)
    click.echo("cards:")
    for card in member_cards(member):
        primary = "  primary" if card.is_primary else ""
        click.echo(f"  {card.number}  {card.type:<12} {card.state}{primary}")


@member_group.group("questions", help="The questionnaire members answer (typed fields).")
def questions_group() -> None:
    pass


@questions_group.command("add", help="Add a question, or update the label/choices of KEY.")
@click.argument("key")
@click.option("--label", required=True)
@click.option(
    "--type",
    "type_",
    required=True,
    type=click.Choice(["text", "integer", "boolean", "date", "choice", "multi_choice"]),
)
@click.option("--choice", "choices", multiple=True, help="An allowed answer (choice types).")
@click.option("--required", is_flag=True, help="Members must answer it when answering any.")
@with_appcontext
def add_question(
    key: str, label: str, type_: str, choices: tuple[str, ...], required: bool
) -> None:
    with cli_unit_of_work():
        question = define_question(key, label, type_, choices=list(choices), required=required)
        click.echo(f"question {question.key} ({question.type}): {question.label}")


@questions_group.command("list", help="Every question, asked or retired.")
@with_appcontext
def list_questions_command() -> None:
    rows = [
        (
            q.key,
            q.type,
            q.label,
            "/".join(q.choices) or "-",
            "required" if q.required else "",
            "active" if q.active else "retired",
        )
        for q in list_questions()
    ]
    echo_table(("key", "type", "label", "choices", "", "state"), rows)


@questions_group.command("retire", help="Stop asking KEY; answers already given are kept.")
@click.argument("key")
@with_appcontext
def retire_question_command(key: str) -> None:
    with cli_unit_of_work():
        retire_question(key)
        click.echo(f"question {key} retired")


def member_count_column(stores: list[Store], **_: Any) -> tuple[str, dict[int, str]]:
    """The members column of ``laoyou store list``: members whose home is the store."""
    counts = members_per_store()
    return "members", {store.id: str(counts.get(store.id, 0)) for store in stores}
