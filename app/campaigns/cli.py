"""``laoyou vote …``, ``laoyou draw …``, ``laoyou messages …``: campaigns by hand, for now."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from app.campaigns import services
from app.campaigns.draws import verify, winners_of
from app.cli.support import cli_unit_of_work, echo_table, local_minute
from app.clock import to_local


@click.group("vote", help="Votes members answer by text (VOTE A / 投票 A).")
def vote_group() -> None:
    pass


_WHEN = "Local YYYY-MM-DD HH:MM."


def _pairs(values: tuple[str, ...], option: str, shape: str) -> list[tuple[str, str]]:
    pairs = []
    for text in values:
        left, sep, right = text.partition("=")
        if not sep:
            raise click.BadParameter(f"{text!r} is not {shape}", param_hint=option)
        pairs.append((left, right))
    return pairs


@vote_group.command(
    "open", help='Open a vote: laoyou vote open "新品投票" --option A=红豆 --option B=抹茶'
)
@click.argument("title")
@click.option(
    "--option", "options", multiple=True, required=True, help="CODE=label, twice or more."
)
@click.option("--opens-at", default="", help="Schedule the opening. " + _WHEN)
@click.option("--closes-at", default="", help="Close and announce then. " + _WHEN)
@click.option("--min-level-rank", type=int, default=None, help="Only this level rank and above.")
@with_appcontext
def open_vote(
    title: str, options: tuple[str, ...], opens_at: str, closes_at: str, min_level_rank: int | None
) -> None:
    pairs = _pairs(options, "--option", "CODE=label")
    with cli_unit_of_work():
        vote = services.open_vote(
            title,
            pairs,
            opens_at=services.local_time(opens_at, "opens_at"),
            closes_at=services.local_time(closes_at, "closes_at"),
            min_level_rank=min_level_rank,
        )
        summary = ", ".join(f"{o.code}={o.label}" for o in vote.options)
        status = vote.status
    click.echo(f"vote {vote.id} {status}: {vote.title} ({summary})")


@vote_group.command("close", help="Close a vote, announce its results and print its count.")
@click.argument("vote_id", type=int)
@with_appcontext
def close_vote(vote_id: int) -> None:
    with cli_unit_of_work():
        vote = services.close_vote(vote_id)
        results = services.vote_results(vote)
    click.echo(f"vote {vote.id} closed: {vote.title}")
    echo_table(("option", "label", "votes"), [(o.code, o.label, str(n)) for o, n in results])


@vote_group.command("cancel", help="Cancel a scheduled or open vote (no results are sent).")
@click.argument("vote_id", type=int)
@with_appcontext
def cancel_vote(vote_id: int) -> None:
    with cli_unit_of_work():
        vote = services.cancel_vote(vote_id)
    click.echo(f"vote {vote.id} cancelled: {vote.title}")


@click.group("draw", help="Draws members enter by text (DRAW / 抽奖).")
def draw_group() -> None:
    pass


@draw_group.command(
    "open",
    help='Open a draw: laoyou draw open "周年抽奖" --prize 保温杯=3 --points-cost 100',
)
@click.argument("title")
@click.option("--prize", "prizes", multiple=True, help="NAME=COUNT, first prize first.")
@click.option("--min-level-rank", type=int, default=None, help="Only this level rank and above.")
@click.option("--points-cost", type=int, default=0, show_default=True, help="Points per entry.")
@click.option("--opens-at", default="", help="Schedule the opening. " + _WHEN)
@click.option("--closes-at", default="", help="Draw the winners then. " + _WHEN)
@with_appcontext
def open_draw(
    title: str,
    prizes: tuple[str, ...],
    min_level_rank: int | None,
    points_cost: int,
    opens_at: str,
    closes_at: str,
) -> None:
    prize_list = []
    for name, count in _pairs(prizes, "--prize", "NAME=COUNT"):
        if not count.strip().isdigit():
            raise click.BadParameter(f"{count!r} is not a whole number", param_hint="--prize")
        prize_list.append((name, int(count)))
    with cli_unit_of_work():
        draw = services.open_draw(
            title,
            min_level_rank=min_level_rank,
            points_cost=points_cost,
            prizes=prize_list,
            opens_at=services.local_time(opens_at, "opens_at"),
            closes_at=services.local_time(closes_at, "closes_at"),
        )
        status, seed_hash = draw.status, draw.seed_sha256
    rules = []
    if draw.min_level_rank is not None:
        rules.append(f"level rank {draw.min_level_rank}+")
    if draw.points_cost:
        rules.append(f"{draw.points_cost} points per entry")
    click.echo(
        f"draw {draw.id} {status}: {draw.title}" + (f" ({', '.join(rules)})" if rules else "")
    )
    if seed_hash:
        click.echo(f"seed sha256 {seed_hash}")


@draw_group.command("close", help="Close a draw, draw its winners and tell the entrants.")
@click.argument("draw_id", type=int)
@with_appcontext
def close_draw(draw_id: int) -> None:
    with cli_unit_of_work():
        draw = services.close_draw(draw_id)
        entries = services.entry_count(draw)
        winners = len(winners_of(draw))
    click.echo(f"draw {draw.id} closed: {draw.title} ({entries} entries, {winners} winners)")


@draw_group.command("cancel", help="Cancel a draw; paid entries get their points back.")
@click.argument("draw_id", type=int)
@with_appcontext
def cancel_draw(draw_id: int) -> None:
    with cli_unit_of_work():
        draw = services.cancel_draw(draw_id)
    click.echo(f"draw {draw.id} cancelled: {draw.title}")


@draw_group.command("show", help="A draw: its rules, seed hash, entries and winners.")
@click.argument("draw_id", type=int)
@with_appcontext
def show_draw(draw_id: int) -> None:
    with cli_unit_of_work():
        draw = services.get_draw(draw_id)
        lines = [
            f"draw {draw.id}: {draw.title}",
            f"status        {draw.status}",
            f"opens at      {local_minute(draw.opens_at or draw.opened_at)}",
            f"closes at     {local_minute(draw.closes_at)}",
            f"points cost   {draw.points_cost}",
            f"min level     {draw.min_level_rank or '-'}",
            f"entries       {services.entry_count(draw)}",
            f"seed sha256   {draw.seed_sha256 or '(committed when it opens)'}",
        ]
        if draw.status == "closed" and draw.seed is not None:
            lines += [f"seed          {draw.seed.hex()}", f"entries sha256 {draw.entries_sha256}"]
        prizes = [(str(p.position), p.name, str(p.winners)) for p in draw.prizes]
        winners = [
            (str(w.pick), w.prize.name, str(w.entry_id), str(w.member_id)) for w in winners_of(draw)
        ]
    for line in lines:
        click.echo(line)
    if prizes:
        echo_table(("prize", "name", "winners"), prizes)
    if winners:
        echo_table(("pick", "prize", "entry", "member"), winners)


@draw_group.command(
    "verify", help="Recompute a drawn draw's winners from its revealed seed; exit 1 on mismatch."
)
@click.argument("draw_id", type=int)
@with_appcontext
def verify_draw(draw_id: int) -> None:
    with cli_unit_of_work():
        report = verify(services.get_draw(draw_id))
    if report.ok:
        click.echo(
            f"draw {draw_id}: match ({report.entries} entries, {report.winners} winners "
            "recomputed from the revealed seed)"
        )
        return
    click.echo(f"draw {draw_id}: mismatch")
    for problem in report.problems:
        click.echo(f"  {problem}")
    raise SystemExit(1)


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
