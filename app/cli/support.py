"""Helpers the packages' CLI modules share: this module imports no package of app/."""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import click
from sqlalchemy.orm import Session

from app.clock import to_local
from app.db import unit_of_work
from app.errors import LaoyouError


@contextmanager
def cli_unit_of_work() -> Iterator[Session]:
    """A command's one commit; a domain error becomes ``Error: <message>``, exit 1, no writes."""
    try:
        with unit_of_work() as session:
            yield session
    except LaoyouError as exc:
        raise click.ClickException(exc.message) from exc


def echo_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Left-aligned columns; CJK characters count double so columns line up in a terminal."""
    widths = [max(_width(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        cells = [cell + " " * (widths[i] - _width(cell)) for i, cell in enumerate(row)]
        click.echo("  ".join(cells).rstrip())


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def local_minute(moment: dt.datetime | None) -> str:
    """Local time to the minute, as an operator compares it with the clock on the wall."""
    return "" if moment is None else to_local(moment).strftime("%Y-%m-%d %H:%M")
