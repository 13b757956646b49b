"""``laoyou store …``: the chain's stores."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from app.cli.support import cli_unit_of_work, echo_table
from app.signals import store_columns
from app.stores.services import create_store, list_stores


@click.group("store", help="The chain's stores.")
def store_group() -> None:
    pass


@store_group.command(
    "create", help="Add a store, e.g. laoyou store create SH01 --name 上海南京路店 --region 华东"
)
@click.argument("code")
@click.option("--name", required=True, help="The store's name as members see it.")
@click.option("--region", required=True, help="Region of the chain, e.g. 华东.")
@with_appcontext
def create(code: str, name: str, region: str) -> None:
    with cli_unit_of_work():
        store = create_store(code, name, region)
    click.echo(f"store {store.code} created: {store.name} ({store.region})")


@store_group.command("list", help="Every store, with its member count.")
@with_appcontext
def list_() -> None:
    stores = list_stores()
    if not stores:
        click.echo("no stores yet: laoyou store create CODE --name NAME --region REGION")
        return
    # Other packages add columns (members: the member count) without stores importing them.
    columns = [column for _, column in store_columns.send(stores)]
    header = ("code", "name", "region", *(name for name, _ in columns))
    rows = [(s.code, s.name, s.region, *(cells[s.id] for _, cells in columns)) for s in stores]
    echo_table(header, rows)
