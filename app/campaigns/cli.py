"""``laoyou vote …``, ``laoyou draw …``, ``laoyou messages …``: campaigns by hand, for now."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from app.campaigns import services
from app.cli.support import cli_unit_of_work, echo_table
from app.clock import to_local


@click.group("vote", help="Votes members answer by text (VOTE A / 投票 A).")
def vote_group() -> None:
    pass


@vote_group.command(
    "open", help='Open a vote: laoyou vote open "新品投票" --option A=红豆 --option B=抹茶'
)
@click.argument("title")
@click.option(
    "--option", "options", multiple=True, required=True, help="CODE=label, twice or more."
)
@with_appcontext
def open_vote(title: str, options: tuple[str, ...]) -> None:
    pairs = []
    for text in options:
        code, sep, label = text.partition("=")
        if not sep:
            raise click.BadParameter(f"{text!r} is not CODE=label", param_hint="--option")
        pairs.append((code, label))
    with cli_unit_of_work():
        vote = services.open_vote(title, pairs)
        summary = ", ".join(f"{o.code}={o.label}" for o in vote.options)
    click.echo(f"vote {vote.id} open: {vote.title} ({summary})")


@vote_group.command("close", help="Close a vote and print its count.")
@click.argument("vote_id", type=int)
@with_appcontext
def close_vote(vote_id: int) -> None:
    with cli_unit_of_work():
        vote = services.close_vote(vote_id)
        results = services.vote_results(vote)
    click.echo(f"vote {vote.id} closed: {vote.title}")
    echo_table(("option", "label", "votes"), [(o.code, o.label, str(n)) for o, n in results])


@click.group("draw", help="Draws members enter by text (DRAW / 抽奖).")
def draw_group() -> None:
    pass


@draw_group.command("open", help='Open a draw: laoyou draw open "周年抽奖" --points-cost 100')
@click.argument("title")
@click.option("--min-level-rank", type=int, default=None, help="Only this level rank and above.")
@click.option("--points-cost", type=int, default=0, show_default=True, help="Points per entry.")
@with_appcontext
def open_draw(title: str, min_level_rank: int | None, points_cost: int) -> None:
    with cli_unit_of_work():
        draw = services.open_draw(title, min_level_rank=min_level_rank, points_cost=points_cost)
    rules = []
    if draw.min_level_rank is not None:
        rules.append(f"level rank {draw.min_level_rank}+")
    if draw.points_cost:
        rules.append(f"{draw.points_cost} points per entry")
    click.echo(f"draw {draw.id} open: {draw.title}" + (f" ({', '.join(rules)})" if rules else ""))


@draw_group.command("close", help="Close a draw and print how many entered.")
@click.argument("draw_id", type=int)
@with_appcontext
def close_draw(draw_id: int) -> None:
    with cli_unit_of_work():
        draw = services.close_draw(draw_id)
        entries = services.entry_count(draw)
    click.echo(f"draw {draw.id} closed: {draw.title} ({entries} entries)")


@click.group("messages", help="Messages members left for their store (MSG / 留言).")
def messages_group() -> None:
    pass


@messages_group.command("list", help="Messages, oldest first; --unread for the new ones.")
@click.option("--store", "store_code", default=None, help="Only this store's (code).")
@click.option("--unread", is_flag=True, help="Only messages nobody has read.")
@click.option("--mark-read", is_flag=True, help="Mark the listed messages read.")
@with_appcontext
def list_messages(store_code: str | None, unread: bool, mark_read: bool) -> None:
    with cli_unit_of_work():
        messages = services.list_messages(store_code, unread_only=unread)
        rows: list[tuple[str, ...]] = [
            (
                str(m.id),
                to_local(m.created_at).strftime("%Y-%m-%d %H:%M"),
                m.store.code,
                m.member.name or m.member.phone,
                "" if m.read_at is None else "read",
                m.text.replace("\n", " "),
            )
            for m in messages
        ]
        if mark_read:
            services.mark_read(messages)
    if not rows:
        click.echo("no messages")
        return
    echo_table(("id", "time", "store", "member", "status", "text"), rows)


@click.group("broadcast", help="Broadcasts (群发) made in the panel: list, queue, cancel.")
def broadcast_group() -> None:
    pass


@broadcast_group.command("list", help="The newest broadcasts and their counts.")
@with_appcontext
def list_broadcasts_command() -> None:
    from app.campaigns.broadcasts import list_broadcasts

    with cli_unit_of_work():
        rows = [
            (
                str(b.id),
                b.title,
                b.status,
                to_local(b.send_at).strftime("%Y-%m-%d %H:%M"),
                str(b.targeted),
                str(b.skipped),
            )
            for b in list_broadcasts()
        ]
    echo_table(("id", "title", "status", "send at", "targeted", "skipped"), rows)


@broadcast_group.command("queue", help="Queue a scheduled broadcast now, whatever its time.")
@click.argument("broadcast_id", type=click.IntRange(1, 2**31 - 1))
@with_appcontext
def queue_broadcast_command(broadcast_id: int) -> None:
    from app.campaigns.broadcasts import queue_broadcast

    with cli_unit_of_work():
        result = queue_broadcast(broadcast_id)
    click.echo(
        f"broadcast {broadcast_id}: targeted {result.targeted}, skipped {result.skipped}, "
        f"queued {result.queued}"
    )


@broadcast_group.command("cancel", help="Cancel a broadcast: what has not been sent stays unsent.")
@click.argument("broadcast_id", type=click.IntRange(1, 2**31 - 1))
@with_appcontext
def cancel_broadcast_command(broadcast_id: int) -> None:
    from app.campaigns.broadcasts import cancel_broadcast

    with cli_unit_of_work():
        stopped = cancel_broadcast(broadcast_id)
    click.echo(f"broadcast {broadcast_id} cancelled; {stopped} waiting messages stopped")
