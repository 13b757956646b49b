"""``laoyou member questions``; ``laoyou member show`` is the cards package's (it finds a
member by any card), added to this group by ``app.cards.init_app``."""

from __future__ import annotations

import datetime as dt
from typing import Any

import click
from flask.cli import with_appcontext

from app.cli.support import cli_unit_of_work, echo_table
from app.clock import local_today
from app.members.services import (
    birthdays_on,
    define_question,
    list_questions,
    members_per_store,
    retire_question,
)
from app.phone import mask_phone
from app.stores.models import Store


@click.group("member", help="Members.")
def member_group() -> None:
    pass


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
@click.option(
    "--label-in",
    "labels",
    multiple=True,
    type=(click.Choice(["zh-Hans", "zh-Hant", "en"]), str),
    help="LANGUAGE TEXT: the question as staff read it in that language (repeatable). "
    "Given once, it sets all three: a language left out shows --label.",
)
@with_appcontext
def add_question(
    key: str,
    label: str,
    type_: str,
    choices: tuple[str, ...],
    required: bool,
    labels: tuple[tuple[str, str], ...],
) -> None:
    with cli_unit_of_work():
        question = define_question(
            key,
            label,
            type_,
            choices=list(choices),
            required=required,
            labels=dict(labels) if labels else None,
        )
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


@click.command("birthdays", help="The members whose birthday (lunar or solar) falls on a day.")
@click.option(
    "--on",
    "day",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="YYYY-MM-DD; today in the programme's time zone by default.",
)
@with_appcontext
def birthdays_command(day: dt.datetime | None) -> None:
    """One line per member: the masked phone, then the member id."""
    on = day.date() if day is not None else local_today()
    with cli_unit_of_work():
        for member in birthdays_on(on):
            click.echo(f"{mask_phone(member.phone)} {member.id}")
