"""The votes' and draws' scheduled job (registered in ``app.campaigns.init_app``; see ``app.jobs``).

``campaign_schedule`` runs every few minutes: votes and draws whose open time has come
open (a draw commits its seed), those whose close time has come close (a vote's results
go to its voters, a draw's winners are drawn and told). Run twice, it changes nothing the
second time: each step leaves the status it looks for, and every message is keyed.
"""

from __future__ import annotations

import datetime as dt

from app import clock
from app.campaigns.services import run_schedule
from app.i18n import N_
from app.jobs import Job


def campaign_schedule(as_of: dt.date, run_key: str) -> dict[str, int]:
    # Now, not the slot: a run by hand for a past day must not open tomorrow's vote, and
    # a late run still closes what is due.
    return run_schedule(clock.now())


JOBS = (
    Job(
        "campaign_schedule",
        campaign_schedule,
        N_("Open and close scheduled votes and draws; a draw closing draws its winners"),
        every_minutes=5,
    ),
)
