"""The audit log (``audit.view``): read-only, filtered, paged, exported as CSV."""

from __future__ import annotations

import datetime as dt

from flask import Response, render_template, request, stream_with_context

from app import clock
from app.admin.guard import requires
from app.audit.services import PAGE_SIZE, AuditFilter, csv_lines, entries, search

#: The longest filter text read; longer is cut (no one types more).
MAX_FILTER_CHARS = 120


def _local_day(text: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat((text or "").strip()) if text else None
    except ValueError:
        return None


def _filter() -> tuple[AuditFilter, dict[str, str]]:
    """The filter from the query string; a date that is not YYYY-MM-DD is ignored, not a 500."""
    args = {
        k: (request.args.get(k) or "").strip()[:MAX_FILTER_CHARS]
        for k in ("actor", "action", "object", "from", "to")
    }
    zone = clock.zone()
    start, end = _local_day(args["from"]), _local_day(args["to"])
    return (
        AuditFilter(
            actor=args["actor"],
            action=args["action"],
            object=args["object"],
            date_from=dt.datetime.combine(start, dt.time(), tzinfo=zone) if start else None,
            date_to=(
                dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tzinfo=zone)
                if end and end < dt.date.max
                else None
            ),
        ),
        args,
    )


@requires("audit.view")
def audit_log() -> str:
    f, args = _filter()
    page = request.args.get("page", "1")
    number = int(page) if page.isdigit() and 0 < int(page) < 1_000_000 else 1
    rows, total = search(f, page=number)
    pages = max(1, -(-total // PAGE_SIZE))
    return render_template(
        "admin/audit.html",
        rows=rows,
        total=total,
        page=number,
        pages=pages,
        args=args,
        to_local=clock.to_local,
    )


@requires("audit.view")
def audit_csv() -> Response:
    f, _args = _filter()
    stamp = clock.local_now().strftime("%Y%m%d-%H%M")
    return Response(
        stream_with_context(csv_lines(entries(f))),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="audit-{stamp}.csv"'},
    )
