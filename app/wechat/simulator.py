"""Be any WeChat follower: ``laoyou wechat simulate OPENID TEXT`` and the code behind the
browser simulator's WeChat tab. The real engine, as the webhook runs it, in one unit of work.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

import click

from app.cli.support import cli_unit_of_work
from app.errors import InvalidRequest
from app.messaging.compose import render
from app.messaging.models import OutboxMessage
from app.messaging.services import last_outbox_id, queued_after, queued_for
from app.wechat.inbound import answer_text

#: What an openid looks like (WeChat's are 28 characters of these); the simulator takes
#: any such name, so a tester can be ``oTester1``.
OPENID = re.compile(r"[A-Za-z0-9_-]{1,64}")
#: WeChat caps a text message near 2,000 characters; the engine refuses over 1,600.
MAX_TEXT_CHARS = 2048


@dataclass(frozen=True)
class Exchange:
    openid: str
    text: str
    reply: str
    silent: bool
    command: str | None
    #: The openid's newest outbox rows (template and customer-service messages to it).
    outbox: list[OutboxMessage]
    #: What this message queued, to any address (an SMS code, an alert).
    queued: list[OutboxMessage]


def simulate(openid: str, text: str) -> Exchange:
    """Run one text message through the engine as ``openid`` would send it (the caller
    commits)."""
    if not OPENID.fullmatch(openid):
        raise InvalidRequest("an openid is 1 to 64 letters, digits, '-' or '_'", field="openid")
    if len(text) > MAX_TEXT_CHARS:
        raise InvalidRequest("a WeChat text message has at most 2,048 characters", field="text")
    before = last_outbox_id()
    # Each simulated message is new: a fresh id, as WeChat gives each message its MsgId.
    result = answer_text(openid, text, f"SIM{uuid.uuid4().hex}")
    return Exchange(
        openid=openid,
        text=text,
        reply=result.reply,
        silent=result.silent,
        command=result.command,
        outbox=queued_for(openid),
        queued=queued_after(before),
    )


def shown(row: OutboxMessage) -> str:
    """An outbox row's text as it goes out."""
    return row.sent_body or render(row.kind, row.body, row.language)


@click.command("simulate")
@click.argument("openid")
@click.argument("text")
def simulate_command(openid: str, text: str) -> None:
    """Send TEXT as the follower OPENID through the real engine (committed); print the reply
    and what this message queued (``laoyou outbox list`` shows the whole queue)."""
    with cli_unit_of_work():
        exchange = simulate(openid, text)
        queued = [
            (row.id, row.kind, row.address, row.status, shown(row)) for row in exchange.queued
        ]
    click.echo(exchange.reply if not exchange.silent else "(no reply)")
    if queued:
        click.echo("")
        click.echo("queued by this message:")
        for row_id, kind, address, status, body in queued:
            to = "" if address == exchange.openid else f" to {address}"
            click.echo(f"  #{row_id} {kind}{to} {status}: {body}")
