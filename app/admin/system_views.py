"""The system page (``audit.view``): is the database up, how full is the outbox, what
changed lately (the audit log) and what ran lately (the scheduled jobs), on one page.

Each part links to its own room (the audit log, the jobs) for the whole story.
"""

from __future__ import annotations

from flask import render_template

from app import clock
from app.admin.guard import may, requires
from app.admin.job_views import outcome_labels
from app.audit.services import AuditFilter, search
from app.jobs import job_runs
from app.messaging.services import oldest_due_at, outbox_depth
from app.ops.health import database_reachable

#: Audit entries and job runs shown; the rooms they link to show the rest.
RECENT = 10


@requires("audit.view")
def system() -> str:
    now = clock.now()
    due_since = oldest_due_at(now)
    changes, _total = search(AuditFilter(), page=1)
    return render_template(
        "admin/system.html",
        database_up=database_reachable(),
        outbox=outbox_depth(),
        lag_s=int((now - due_since).total_seconds()) if due_since is not None else 0,
        changes=changes[:RECENT],
        runs=job_runs().recent_runs(limit=RECENT) if may("jobs.view") else None,
        outcome_labels=outcome_labels(),
    )
