"""Reports (``reports.view``): the index, each report's page, and its CSV.

``GET /admin/reports/<name>?from=YYYY-MM-DD&to=YYYY-MM-DD[&store=CODE][&region=NAME]``
(``&format=csv`` for the file). The dates default to this month. A store manager's
reports hold only their store(s): naming another store or region is 403, never a quiet
empty report. Bad filters are 400 with the page and the reason, never a 500.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from typing import Any

from flask import Response, abort, g, render_template, request, stream_with_context

from app import clock
from app.admin.guard import current_staff, forbidden, requires
from app.auth.permissions import store_scope
from app.db import db
from app.i18n import gettext
from app.reports.base import ReportParams
from app.reports.export import chart_data, csv_chunks, show
from app.reports.registry import REPORTS, ReportSpec
from app.stores.services import list_stores

#: The longest range a report reads (a year, with a leap day).
MAX_RANGE_DAYS = 366
#: ``days`` a report may be asked for (inactive-members): up to ten years.
MAX_DAYS = 3650
#: Pages beyond this are refused (a number nobody pages to).
MAX_PAGE = 100_000
#: Dates a report reads (the lunar tables' years; the year 1 or 9999 would overflow).
EARLIEST, LATEST = dt.date(1900, 1, 1), dt.date(2099, 12, 31)
#: The longest filter value read; longer is refused.
MAX_ARG_CHARS = 64


class BadFilter(Exception):
    """A filter the report cannot take: 400 with this sentence."""


class OutOfScope(Exception):
    """A store or region outside the staff member's scope: 403."""


@dataclass(frozen=True)
class Filters:
    """The form's values as the staff member typed them (to show back) and as read."""

    args: dict[str, str]
    params: ReportParams


def this_month(today: dt.date) -> tuple[dt.date, dt.date]:
    last = calendar.monthrange(today.year, today.month)[1]
    return today.replace(day=1), today.replace(day=last)


def _arg(name: str) -> str:
    value = (request.args.get(name) or "").strip()
    if len(value) > MAX_ARG_CHARS:
        raise BadFilter(gettext("A filter value is too long."))
    return value


def _date(name: str, default: dt.date) -> dt.date:
    text = _arg(name)
    if not text:
        return default
    try:
        if len(text) != 10:
            raise ValueError(text)
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise BadFilter(gettext("A date must be written YYYY-MM-DD, e.g. 2026-03-01.")) from None
    if not EARLIEST <= day <= LATEST:
        raise BadFilter(gettext("A date must fall between 1900 and 2099."))
    return day


def _whole(name: str, default: int | None, maximum: int) -> int | None:
    text = _arg(name)
    if not text:
        return default
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= maximum:
        raise BadFilter(
            gettext("%(name)s must be a whole number from 1 to %(max)s.", name=name, max=maximum)
        )
    return int(text)


def read_filters(spec: ReportSpec, scope: frozenset[int] | None) -> Filters:
    """The query string as the report's parameters, within the staff member's scope."""
    first, last = this_month(clock.local_today())
    date_from, date_to = _date("from", first), _date("to", last)
    if date_from > date_to:
        raise BadFilter(gettext("The start date is after the end date."))
    if (date_to - date_from).days + 1 > MAX_RANGE_DAYS:
        raise BadFilter(gettext("A report covers at most %(days)s days.", days=MAX_RANGE_DAYS))
    code, region = _arg("store").upper(), _arg("region")
    store_ids = scope
    if code or region:
        visible = list_stores(scope)
        chosen = [
            s
            for s in visible
            if (not code or s.code == code) and (not region or s.region == region)
        ]
        if not chosen:
            if scope is not None:
                raise OutOfScope
            known = {s.code for s in visible}
            if code and code not in known:
                raise BadFilter(gettext("There is no store %(code)s.", code=code))
            if region and region not in {s.region for s in visible}:
                raise BadFilter(gettext("There is no region %(region)s.", region=region))
        store_ids = frozenset(s.id for s in chosen)
    days = _whole("days", None, MAX_DAYS) if "days" in spec.filters else None
    page = _whole("page", 1, MAX_PAGE)
    args = {
        "from": date_from.isoformat(),
        "to": date_to.isoformat(),
        "store": code,
        "region": region,
        "days": str(days or ""),
    }
    params = ReportParams(
        date_from,
        date_to,
        store_ids,
        page=page,
        language=g.get("laoyou_language") or "zh-Hans",
        days=days,
    )
    return Filters(args, params)


@requires("reports.view")
def reports_index() -> str:
    return render_template("admin/reports.html", reports=list(REPORTS.values()))


def _form_context(scope: frozenset[int] | None) -> dict[str, Any]:
    stores = list_stores(scope)
    return {
        "stores": stores,
        "regions": sorted({s.region for s in stores}),
        "staff_scope_all": scope is None,
    }


@requires("reports.view")
def report_page(name: str) -> Any:
    spec = REPORTS.get(name)
    if spec is None:
        abort(404)
    staff = current_staff()
    assert staff is not None
    scope = store_scope(staff)
    wanted = request.args.get("format", "html")
    try:
        if wanted not in ("html", "csv"):
            raise BadFilter(gettext("The format is html or csv."))
        filters = read_filters(spec, scope)
    except OutOfScope:
        return forbidden("reports.view")
    except BadFilter as exc:
        return (
            render_template(
                "admin/report.html",
                spec=spec,
                error=str(exc),
                args={k: (request.args.get(k) or "")[:MAX_ARG_CHARS] for k in request.args},
                report=None,
                **_form_context(scope),
            ),
            400,
        )
    if wanted == "csv":
        return _csv(spec, filters.params)
    report = spec.run(db.session(), filters.params)
    page = filters.params.page or 1
    pages = max(1, -(-report.total_rows // filters.params.page_size))
    return render_template(
        "admin/report.html",
        spec=spec,
        report=report,
        args=filters.args,
        csv_args={k: v for k, v in filters.args.items() if v},
        page=page,
        pages=pages,
        chart=chart_data(report),
        show=show,
        error=None,
        **_form_context(scope),
    )


def _csv(spec: ReportSpec, params: ReportParams) -> Response:
    every = ReportParams(
        params.date_from,
        params.date_to,
        params.store_ids,
        page=None,
        language=params.language,
        days=params.days,
    )
    report = spec.run(db.session(), every)
    filename = f"{spec.name}-{params.date_from:%Y%m%d}-{params.date_to:%Y%m%d}.csv"
    return Response(
        stream_with_context(csv_chunks(report)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
