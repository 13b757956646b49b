"""The campaigns' scheduled jobs: plain functions the scheduler calls in a unit of work.

Each takes the day it runs for and its run key (job + scheduled time) and returns counts.
Each is safe to run twice, or on two hosts at once: a greeting's outbox row and a birthday
gift's journal transaction are keyed by member and year (``birthday:<member>:<year>``), so
a second run of the day, or a re-run with another key, adds nothing; a broadcast is queued
under its row's lock and only from ``scheduled``.
"""

from __future__ import annotations

import datetime as dt

from app import clock
from app.campaigns.broadcasts import due_broadcasts, queue_broadcast
from app.campaigns.outbox import outbox
from app.i18n import N_, render
from app.jobs import Job
from app.ledger.rules.referral import birthday_gift
from app.members.services import birthdays_on
from app.members.wechat import alert_addresses

#: The birthday greeting; the shop may word it its own way (app/texts).
GREETING = N_("Happy birthday, %(name)s! Wishing you a wonderful year. — %(store)s")
NO_NAME = N_("member")


def birthday_greetings(as_of: dt.date, run_key: str) -> dict[str, int]:
    """Greet every member whose birthday (lunar or solar) is ``as_of``, once a year."""
    greeted = 0
    for member in birthdays_on(as_of):
        name = member.name or render(member.language, NO_NAME, {})
        body = render(member.language, GREETING, {"name": name, "store": member.home_store.name})
        for channel, address in alert_addresses(member):
            outbox().enqueue(
                address=address,
                body=body,
                kind="marketing",
                language=member.language,
                channel=channel,
                member=member,
                dedupe_key=f"birthday:{member.id}:{as_of.year}:{channel}",
            )
        greeted += 1
    return {"members": greeted}


def birthday_bonus(as_of: dt.date, run_key: str) -> dict[str, int]:
    """Credit the rules' birthday points (``earning.birthday_points``) once a year."""
    members = given = points = 0
    for member in birthdays_on(as_of):
        members += 1
        credited = birthday_gift(member, as_of.year)
        if credited:
            given += 1
            points += credited
    return {"members": members, "given": given, "points": points}


def broadcasts_due(as_of: dt.date, run_key: str) -> dict[str, int]:
    """Queue the scheduled broadcasts whose time has come (定时发送).

    Due means ``send_at`` at or before now: a broadcast is sent at its minute, whatever day
    the run is for.
    """
    totals = {"broadcasts": 0, "targeted": 0, "skipped": 0, "queued": 0}
    for broadcast_id in due_broadcasts(clock.now()):
        result = queue_broadcast(broadcast_id)
        if result.targeted or result.skipped:
            totals["broadcasts"] += 1
        for name, value in result.as_dict().items():
            totals[name] += value
    return totals


JOBS = (
    # Greetings are marketing: sent in the day, and held by quiet hours all the same.
    Job(
        "birthday_greetings",
        birthday_greetings,
        N_("Greet the members whose birthday (solar or lunar) is today"),
        at="10:00",
    ),
    Job(
        "birthday_bonus",
        birthday_bonus,
        N_("Credit the birthday points of the rules to today's birthdays"),
        at="00:45",
    ),
    Job(
        "broadcasts_due",
        broadcasts_due,
        N_("Queue the scheduled broadcasts whose time has come"),
        every_minutes=1,
    ),
)
