"""Member import (``members.edit``) and export (``members.view``) as CSV, for the chain.

Import is two steps: the upload is checked (a dry run: the ledger's ``import_members``
with everything rolled back) and its report shown; the file waits, base64 in the
check's one-time key row, until staff confirm, and the import then reads it from there
(so a second web worker serves the confirmation as well as the first) and forgets it.
The upload is limited by ``MAX_CONTENT_LENGTH`` (a 413 page beyond it).
"""

from __future__ import annotations

import base64
import io
from typing import Any

from flask import current_app, render_template, request
from werkzeug.wrappers import Response

from app import clock
from app.admin.guard import current_staff, forbidden, requires
from app.admin.messages import error_text
from app.admin.once import claim, clean_key, form_key, outcome_of, settle
from app.auth.permissions import store_scope
from app.errors import LaoyouError
from app.i18n import gettext
from app.ledger.member_csv import MAX_LISTED, ImportReport, export_members, import_members

CHECK = "member.import_check"
IMPORT = "member.import"


def _chain_wide() -> bool:
    staff = current_staff()
    assert staff is not None
    return store_scope(staff) is None


def _page(status: int = 200, **shown: Any) -> tuple[str, int]:
    return (
        render_template(
            "admin/members_import.html",
            key=form_key(),
            confirm_key=form_key(),
            limit_kib=current_app.config["MAX_CONTENT_LENGTH"] // 1024,
            listed=MAX_LISTED,
            **shown,
        ),
        status,
    )


def _report(report: ImportReport) -> dict[str, Any]:
    return {
        "dry_run": report.dry_run,
        "imported": report.imported,
        "skipped": report.skipped,
        "refused": report.refused,
        "members_created": report.members_created,
        "cards_issued": report.cards_issued,
        "openings_posted": report.openings_posted,
        "refusals": [
            {
                "line": r.line,
                "phone": r.phone,
                "card_number": r.card_number,
                "message": gettext(r.template, **r.params) if r.template else r.message,
            }
            for r in report.refusals
        ],
    }


@requires("members.edit")
def members_import() -> tuple[str, int]:
    if not _chain_wide():
        return forbidden("members.edit")
    if request.method == "GET":
        return _page()
    staff = current_staff()
    assert staff is not None
    actor = f"staff:{staff.username}"
    if request.form.get("step") == "import":
        return _confirm(staff.username, actor)
    upload = request.files.get("file")
    data = upload.read() if upload is not None else b""
    filename = ((upload.filename if upload is not None else "") or "")[:200]
    if not data:
        return _page(400, error=gettext("Choose a CSV file to check."))
    key = clean_key(request.form.get("key"))
    if claim(key, staff.username, CHECK) is not None:
        return _page(409, error=gettext("This form was already used. Reload the page."))
    try:
        report = import_members(io.BytesIO(data), actor=actor, dry_run=True)
    except LaoyouError as exc:
        return _page(400, error=error_text(exc))
    settle(key, {"file": base64.b64encode(data).decode("ascii"), "name": filename})
    return _page(report=_report(report), checked=key, filename=filename)


def _confirm(username: str, actor: str) -> tuple[str, int]:
    checked = clean_key(request.form.get("checked"))
    key = clean_key(request.form.get("key"))
    stored = outcome_of(checked, username) or {}
    if "file" not in stored:
        earlier = outcome_of(key, username)
        if earlier is not None and "report" in earlier:
            # The same confirmation sent twice: the import ran once, here is its report.
            return _page(report=earlier["report"], imported=True)
        return _page(400, error=gettext("Check the file again before importing it."))
    if claim(key, username, IMPORT) is not None:
        return _page(409, error=gettext("This form was already used. Reload the page."))
    try:
        report = import_members(io.BytesIO(base64.b64decode(stored["file"])), actor=actor)
    except LaoyouError as exc:
        return _page(400, error=error_text(exc))
    shown = _report(report)
    settle(checked, {"name": stored.get("name"), "imported": True})  # the file is forgotten
    settle(key, {"report": shown})
    return _page(report=shown, imported=True)


@requires("members.view")
def members_export() -> Response | tuple[str, int]:
    if not _chain_wide():
        return forbidden("members.view")

    out = io.StringIO()
    out.write("\ufeff")  # Excel reads UTF-8 with a BOM
    export_members(out)
    stamp = clock.local_now().strftime("%Y%m%d-%H%M")
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="members-{stamp}.csv"',
            "Cache-Control": "no-store",
        },
    )
