"""``laoyou wechat``: push the menu, make a scene QR, run the fake WeChat API for the demo."""

from __future__ import annotations

import io
import json
import threading
from pathlib import Path
from typing import Any

import click
from flask import current_app

from app.cli.support import cli_unit_of_work, local_minute


@click.group("wechat", help="WeChat official account tools.")
def wechat_group() -> None:
    pass


@wechat_group.group("menu", help="The official account's custom menu.")
def menu_group() -> None:
    pass


@menu_group.command("push")
@click.option(
    "--file",
    "path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help='A menu as WeChat\'s JSON ({"button": [...]}); default: the built-in menu.',
)
def menu_push_command(path: Path | None) -> None:
    """Create the custom menu through the WeChat API (it replaces the current one)."""
    from app.wechat.menus import default_menu, load_menu, push_menu

    with cli_unit_of_work():
        menu = load_menu(path) if path is not None else default_menu()
        push_menu(menu)
    names = [button["name"] for button in menu["button"]]
    click.echo(f"menu pushed: {' | '.join(names)}")


@wechat_group.command("qr")
@click.argument("member_ref")
@click.option("--permanent", is_flag=True, help="A permanent QR (an account has 100,000).")
@click.option(
    "--expire-seconds",
    type=int,
    default=None,
    help="A temporary QR's life, 60 to 2592000 seconds (default a week).",
)
@click.option("--show", is_flag=True, help="Also draw the QR in the terminal.")
def qr_command(member_ref: str, permanent: bool, expire_seconds: int | None, show: bool) -> None:
    """A scene QR that binds whoever scans it to MEMBER_REF (phone or card number)."""
    from app.cards.services import resolve_member
    from app.wechat.scenes import DEFAULT_EXPIRE_SECONDS, create_scene_qr

    with cli_unit_of_work():
        member = resolve_member(member_ref)
        qr = create_scene_qr(
            member,
            permanent=permanent,
            expire_seconds=expire_seconds or DEFAULT_EXPIRE_SECONDS,
        )
    click.echo(f"ticket:  {qr.ticket}")
    click.echo(f"image:   {qr.show_url}")
    click.echo(f"encodes: {qr.qr_url}")
    click.echo(f"expires: {local_minute(qr.expires_at) if qr.expires_at else 'never'}")
    if show:
        import qrcode

        code = qrcode.QRCode(border=1)
        code.add_data(qr.qr_url)
        text = io.StringIO()
        code.print_ascii(out=text, invert=True)
        click.echo(text.getvalue())


@wechat_group.command("fake-api")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8082, show_default=True, type=click.IntRange(0, 65535))
def fake_api_command(host: str, port: int) -> None:
    """A local stand-in for the WeChat API (the demo's): prints what it receives."""
    from app.messaging.providers.wechat_fake import FakeWechatApi

    config = current_app.config
    app_id = config["WECHAT_APP_ID"] or "wx-laoyou-demo"
    secret = config["WECHAT_APP_SECRET"] or "laoyou-demo-secret"
    fake = FakeWechatApi(app_id, secret, host=host, port=port)

    def show(entry: dict[str, Any]) -> None:
        click.echo(f"{entry['path']} {json.dumps(entry['body'], ensure_ascii=False)}")

    fake.on_receive = show
    click.echo(f"fake WeChat API at {fake.base_url}; Ctrl-C stops. Point Laoyou at it with:")
    click.echo(
        f"  WECHAT_PROVIDER=api WECHAT_API_BASE_URL={fake.base_url} "
        f"WECHAT_APP_ID={app_id} WECHAT_APP_SECRET={secret}"
    )
    fake.start()
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()
    click.echo("fake WeChat API stopped")
