"""``laoyou apikey …``: the stores' keys for the REST API.

``apikey create`` prints the key alone on its last line, so scripts can take it
with ``tail -1``; the key is shown once and only its SHA-256 is kept.
"""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from app.auth.services import create_api_key, list_api_keys, revoke_api_key
from app.cli.support import cli_unit_of_work, echo_table, local_minute
from app.stores.services import get_store


@click.group("apikey", help="API keys of the stores (Authorization: Bearer <key>).")
def apikey_group() -> None:
    pass


@apikey_group.command("create", help="Make a key for a store; the key is the last line printed.")
@click.option("--store", "store_code", required=True, help="Store code, e.g. SH01.")
@click.option("--label", default=None, help="What the key is for, e.g. 'POS counter 2'.")
@with_appcontext
def create(store_code: str, label: str | None) -> None:
    with cli_unit_of_work():
        key, secret = create_api_key(get_store(store_code), label=(label or "").strip() or None)
        prefix, code, name = key.prefix, key.store.code, key.store.name
    click.echo(f"API key {prefix}… for store {code} ({name}); it is shown only this once:")
    click.echo(secret)


@apikey_group.command("revoke", help="Revoke a key by the prefix shown in 'laoyou apikey list'.")
@click.argument("prefix")
@with_appcontext
def revoke(prefix: str) -> None:
    with cli_unit_of_work():
        key = revoke_api_key(prefix.strip().rstrip("…"))
        revoked_at, code = key.revoked_at, key.store.code
    click.echo(f"API key {key.prefix}… of store {code} revoked at {local_minute(revoked_at)}")


@apikey_group.command(
    "list", help="Every key: prefix, store, label, created, revoked (no secrets)."
)
@click.option("--store", "store_code", default=None, help="Only this store's keys.")
@with_appcontext
def list_(store_code: str | None) -> None:
    keys = list_api_keys()
    if store_code:
        code = get_store_or_fail(store_code)
        keys = [k for k in keys if k.store.code == code]
    if not keys:
        click.echo("no API keys yet: laoyou apikey create --store CODE")
        return
    rows = [
        (
            k.prefix,
            k.store.code,
            k.label or "",
            local_minute(k.created_at),
            local_minute(k.revoked_at),
        )
        for k in keys
    ]
    echo_table(("prefix", "store", "label", "created", "revoked"), rows)


def get_store_or_fail(code: str) -> str:
    from app.errors import NotFound

    try:
        return get_store(code).code
    except NotFound as exc:
        raise click.ClickException(exc.message) from exc
