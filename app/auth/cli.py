"""``laoyou apikey …``: the stores' keys for the REST API; ``laoyou staff …``: the panel's staff.

``apikey create`` prints the key alone on its last line, so scripts can take it
with ``tail -1``; the key is shown once and only its SHA-256 is kept.
"""

from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext

from app.auth.models import ROLES, STAFF_LANGUAGES
from app.auth.services import (
    create_api_key,
    create_staff,
    disable_staff,
    get_staff,
    list_api_keys,
    list_staff,
    revoke_api_key,
)
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


@click.group("staff", help="Staff accounts of the admin panel.")
def staff_group() -> None:
    pass


@staff_group.command("create", help="Make a staff account; the password is read from stdin.")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(ROLES), help="What the account may do.")
@click.option("--store", "store_code", default=None, help="Home store (store roles need one).")
@click.option("--name", "display_name", default=None, help="The name shown in the panel.")
@click.option(
    "--language", default=None, type=click.Choice(STAFF_LANGUAGES), help="The panel's language."
)
@click.option(
    "--password-stdin",
    "password_stdin",
    is_flag=True,
    help="Read the password from standard input (never give it as an argument).",
)
@with_appcontext
def staff_create(
    username: str,
    role: str,
    store_code: str | None,
    display_name: str | None,
    language: str | None,
    password_stdin: bool,
) -> None:
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    with cli_unit_of_work():
        staff = create_staff(
            username,
            password,
            role=role,
            store_code=store_code,
            display_name=display_name,
            language=language,
        )
        where = f" at {staff.store.code}" if staff.store else ""
        click.echo(f"staff {staff.username} ({staff.role}{where}) created: sign in at /admin/login")


@staff_group.command("list", help="Every staff account (no passwords).")
@with_appcontext
def staff_list() -> None:
    people = list_staff()
    if not people:
        click.echo("no staff yet: laoyou staff create USERNAME --role admin --password-stdin")
        return
    rows = [
        (
            s.username,
            s.display_name,
            s.role,
            s.store.code if s.store else "",
            s.language,
            "active" if s.active else "disabled",
            local_minute(s.locked_until),
            local_minute(s.last_sign_in_at),
        )
        for s in people
    ]
    echo_table(
        ("username", "name", "role", "store", "language", "status", "locked until", "last sign-in"),
        rows,
    )


@staff_group.command("disable", help="Stop an account signing in; its sessions end at once.")
@click.argument("username")
@with_appcontext
def staff_disable(username: str) -> None:
    with cli_unit_of_work():
        staff = disable_staff(get_staff(username))
        name = staff.username
    click.echo(f"staff {name} disabled")
