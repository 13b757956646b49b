"""The rules room: every section of the rules document as a form or as JSON, and the alerts.

Each change reads the rules in force (``export_rules``), replaces one section and applies
the whole document through ``replace_rules``: the import's validation, its audit entry,
and a new revision that the next checkout reads.
"""

from __future__ import annotations

import json
from typing import Any

from flask import abort, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from app.admin.guard import may, requires
from app.admin.rules_forms import (
    MAX_ROWS,
    FormError,
    Posted,
    Section,
    input_for,
    read_form,
    refusal_text,
    rows_shown,
    section_value,
    sections,
    with_section,
)
from app.db import db
from app.errors import InvalidRequest
from app.i18n import gettext
from app.ledger.rules.io import export_rules, replace_rules, rules_revision
from app.members.services import list_levels
from app.messaging.compose import quiet_hours
from app.messaging.models import ALERT_TYPES
from app.messaging.services import (
    QUIET_OFF,
    check_quiet_hours,
    programme_alerts,
    saved_quiet_hours,
    set_programme_alert,
    set_quiet_hours,
)
from app.stores.services import list_stores
from app.web.boundary import load_json

#: The document's own sections, each editable as JSON (the rest of the document kept).
DOCUMENT_SECTIONS = (
    "earning",
    "discounts",
    "overdraft_limits",
    "levels",
    "growth",
    "recharge_plans",
    "points_expiry",
    "redemption",
    "categories",
)


def _sections() -> list[Section]:
    return sections(
        lambda: [(s.code, f"{s.code} · {s.name}") for s in list_stores()],
        lambda: [lv.name for lv in list_levels()],
    )


def _section(slug: str) -> Section:
    for section in _sections():
        if section.slug == slug:
            return section
    abort(404)


def alert_labels() -> dict[str, str]:
    return {
        "transaction": gettext("After every purchase or recharge"),
        "low_balance": gettext("Low balance"),
        "level": gettext("Level changed"),
        "points_expiring": gettext("Points about to expire"),
    }


@requires("rules.view")
def overview() -> str:
    document = export_rules()
    summary = []
    for section in _sections():
        value = section_value(document, section)
        summary.append({"section": section, "count": len(value) if section.many else None})
    return render_template(
        "admin/rules.html",
        summary=summary,
        document_sections=DOCUMENT_SECTIONS,
        alerts=programme_alerts(),
        alert_labels=alert_labels(),
    )


@requires("rules.view")
def export_json() -> Response:
    """The rules in force, as ``laoyou rules export`` prints them: a file to keep or import."""
    body = json.dumps(export_rules(), ensure_ascii=False, indent=2) + "\n"
    return Response(
        body,
        mimetype="application/json",
        headers={"Content-Disposition": 'attachment; filename="rules.json"'},
    )


def _stale() -> bool:
    """The page was opened on other rules: saving it would undo a change made since."""
    return request.form.get("revision", "") != (rules_revision() or "")


def _stale_text() -> str:
    return gettext(
        "Someone changed the rules since you opened this page. "
        "Here they are now: make your change again."
    )


@requires("rules.view")
def section_page(slug: str) -> str:
    section = _section(slug)
    rows = rows_shown(section, section_value(export_rules(), section))
    return _render_section(section, rows, saved=request.args.get("saved") == "1")


def _render_section(
    section: Section,
    rows: list[dict[str, Any]],
    *,
    saved: bool = False,
    error: str = "",
    bad_input: str | None = None,
    new_rows: list[bool] | None = None,
) -> str:
    return render_template(
        "admin/rules_section.html",
        section=section,
        rows=rows,
        new_rows=new_rows or [False] * len(rows),
        editable=may("rules.edit"),
        revision=rules_revision() or "",
        saved=saved,
        error=error,
        bad_input=bad_input,
    )


def _posted_rows(
    section: Section, form: MultiDict[str, str]
) -> tuple[list[dict[str, Any]], list[bool]]:
    """What the person typed, shown again beside a refusal (nothing of it was saved)."""

    def row(prefix: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in section.fields:
            name = f"{prefix}{f.key}"
            if f.kind == "flag":
                out[f.key] = form.get(name) == "on"
            elif f.kind == "multi":
                out[f.key] = form.getlist(name)
            else:
                out[f.key] = form.get(name, "")
        out["remove"] = form.get(f"{prefix}remove") == "on"
        return out

    if not section.many:
        return [row("")], [False]
    text = form.get("rows", "")
    count = int(text) if text.isascii() and text.isdigit() and int(text) <= MAX_ROWS else 0
    # The blank row for a new item comes back blank: the page adds its own again.
    shown = [
        n
        for n in range(count)
        if form.get(f"{n}.new") != "1"
        or any(form.get(f"{n}.{f.key}", "").strip() for f in section.fields if f.kind != "flag")
    ]
    return [row(f"{n}.") for n in shown], [form.get(f"{n}.new") == "1" for n in shown]


@requires("rules.edit")
def section_post(slug: str) -> Response | tuple[str, int]:
    section = _section(slug)
    if _stale():
        rows = rows_shown(section, section_value(export_rules(), section))
        return _render_section(section, rows, error=_stale_text()), 409
    posted: Posted | None = None
    try:
        posted = read_form(section, request.form)
        document = with_section(export_rules(), section, posted.value)
        replace_rules(document, action="rules.update", object_id=section.slug)
    except FormError as exc:
        label = _label(section, exc.name)
        return _refused(section, f"{label}: {exc.message}" if label else exc.message, exc.name)
    except InvalidRequest as exc:
        path = str(exc.details.get("field", ""))
        bad = input_for(section, posted, path) if posted is not None else None
        label = _label(section, bad)
        key = (bad or "").partition(".")[2] if section.many else (bad or "")
        kind = next((f.kind for f in section.fields if f.key == key), "")
        why = refusal_text(exc.message, path, kind)
        return _refused(section, f"{label}: {why}" if label else why, bad)
    return redirect(url_for("admin.rules_section", slug=slug, saved=1))


def _label(section: Section, name: str | None) -> str:
    """The input a refusal points at as people read it: "Row 2 · Price paid (%)"."""
    if not name:
        return ""
    row, _, key = name.partition(".") if section.many else ("", "", name)
    field = next((f for f in section.fields if f.key == key), None)
    where = gettext("Row %(n)s", n=int(row) + 1) if row.isdigit() else ""
    return " · ".join(part for part in (where, field.label if field else "") if part)


def _refused(section: Section, message: str, bad_input: str | None) -> tuple[str, int]:
    db.session.rollback()
    rows, new_rows = _posted_rows(section, request.form)
    text = gettext("Not saved. %(why)s", why=message)
    return (
        _render_section(section, rows, error=text, bad_input=bad_input, new_rows=new_rows),
        400,
    )


def _document_section(name: str) -> str:
    if name not in DOCUMENT_SECTIONS:
        abort(404)
    return name


@requires("rules.view")
def json_page(name: str) -> str:
    name = _document_section(name)
    text = json.dumps(export_rules().get(name), ensure_ascii=False, indent=2)
    return _render_json(name, text, saved=request.args.get("saved") == "1")


def _render_json(name: str, text: str, *, saved: bool = False, error: str = "") -> str:
    return render_template(
        "admin/rules_json.html",
        name=name,
        text=text,
        editable=may("rules.edit"),
        revision=rules_revision() or "",
        saved=saved,
        error=error,
    )


@requires("rules.edit")
def json_post(name: str) -> Response | tuple[str, int]:
    name = _document_section(name)
    text = request.form.get("document", "")
    if _stale():
        current = json.dumps(export_rules().get(name), ensure_ascii=False, indent=2)
        return _render_json(name, current, error=_stale_text()), 409
    try:
        value = load_json(text)
    except ValueError as exc:
        return _render_json(
            name, text, error=gettext("This is not valid JSON: %(why)s", why=str(exc))
        ), 400
    document = export_rules()
    document[name] = value
    try:
        replace_rules(document, action="rules.update", object_id=name)
    except InvalidRequest as exc:
        db.session.rollback()
        return _render_json(name, text, error=gettext("Not saved. %(why)s", why=exc.message)), 400
    return redirect(url_for("admin.rules_json", name=name, saved=1))


@requires("rules.view")
def alerts_page() -> str:
    return _render_alerts(saved=request.args.get("saved") == "1")


def _render_alerts(
    *, saved: bool = False, error: str = "", typed: dict[str, str] | None = None
) -> str:
    hours = quiet_hours()
    shown = typed or {
        "start": hours[0] if hours else "",
        "end": hours[1] if hours else "",
        "off": "on" if hours is None else "",
    }
    return render_template(
        "admin/rules_alerts.html",
        alerts=programme_alerts(),
        alert_labels=alert_labels(),
        quiet=hours,
        quiet_saved=saved_quiet_hours() is not None,
        quiet_form=shown,
        quiet_error=error,
        editable=may("rules.edit"),
        saved=saved,
    )


@requires("rules.edit")
def alerts_post() -> Response:
    """Every switch as the form shows it: a box left unticked turns that alert off."""
    for alert_type in ALERT_TYPES:
        set_programme_alert(alert_type, request.form.get(f"alert:{alert_type}") == "on")
    return redirect(url_for("admin.rules_alerts", saved=1))


@requires("rules.edit")
def quiet_hours_post() -> Response | tuple[str, int]:
    """The programme's quiet hours, checked as ``laoyou rules import`` checks them."""
    typed = {
        "start": request.form.get("start", "").strip()[:16],
        "end": request.form.get("end", "").strip()[:16],
        "off": "on" if request.form.get("off") == "on" else "",
    }
    value: Any = QUIET_OFF if typed["off"] else {"start": typed["start"], "end": typed["end"]}
    try:
        set_quiet_hours(check_quiet_hours(value))
    except InvalidRequest as exc:
        db.session.rollback()
        if str(exc.details.get("field", "")).endswith(".end") and "differ" in exc.message:
            why = gettext(
                "The end must differ from the start. For no quiet hours, tick “No quiet hours”."
            )
        else:
            why = gettext("Enter the times as HH:MM, from 00:00 to 23:59, such as 21:00.")
        return _render_alerts(error=gettext("Not saved. %(why)s", why=why), typed=typed), 400
    return redirect(url_for("admin.rules_alerts", saved=1))
