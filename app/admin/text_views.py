"""Message templates (``rules.view`` to see, ``rules.edit`` to change): the wording of
every alert and bot reply in each language, with a live preview.

The preview is rendered on the server by the same check and formatting a save uses, so
what the page shows is what the member will read.
"""

from __future__ import annotations

from flask import jsonify, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from app.admin.guard import requires
from app.errors import InvalidRequest
from app.i18n import gettext
from app.texts.services import (
    GROUPS,
    LANGUAGES,
    MAX_TEXT_CHARS,
    catalogue_text,
    default_preview,
    entries,
    entry,
    override_rows,
    override_table,
    preview,
    reset_override,
    save_override,
)


def _group_labels() -> dict[str, str]:
    return {
        "alerts": gettext("Alerts"),
        "replies": gettext("Bot replies"),
        "others": gettext("Other messages"),
    }


def _refusal(exc: InvalidRequest) -> str:
    """A refused text as a sentence in the staff member's language."""
    reason = exc.details.get("reason")
    if reason == "placeholders":
        parts = []
        if exc.details.get("missing"):
            parts.append(
                gettext(
                    "Missing placeholders: %(names)s.",
                    names=", ".join(f"%({n})s" for n in exc.details["missing"]),
                )
            )
        if exc.details.get("unknown"):
            parts.append(
                gettext(
                    "Unknown placeholders: %(names)s.",
                    names=", ".join(f"%({n})s" for n in exc.details["unknown"]),
                )
            )
        return " ".join([*parts, gettext("Keep exactly the placeholders of the original text.")])
    if reason == "text_empty":
        return gettext("The text is empty.")
    if reason == "text_too_long":
        return gettext("The text is too long: at most %(max)s characters.", max=MAX_TEXT_CHARS)
    if reason == "text_format":
        return gettext("The text does not render: write a percent sign as %%.")
    return gettext("Unknown language.")


@requires("rules.view")
def texts_list() -> str:
    shown = request.args.get("group", "")
    words = request.args.get("q", "")[:100].strip().lower()
    table = override_table()
    listed = [
        e
        for e in entries()
        if (shown not in GROUPS or e.group == shown)
        and (
            not words
            or words in e.msgid.lower()
            or any(words in catalogue_text(e.msgid, lang).lower() for lang in LANGUAGES)
        )
    ]
    return render_template(
        "admin/texts.html",
        entries=listed,
        groups=GROUPS,
        group_labels=_group_labels(),
        shown=shown,
        q=words,
        languages=LANGUAGES,
        catalogue_text=catalogue_text,
        table=table,
    )


def _detail(
    key: str, error: str | None = None, status: int = 200, edited: dict[str, str] | None = None
) -> tuple[str, int]:
    found = entry(key)
    rows = override_rows(key)
    return (
        render_template(
            "admin/text_edit.html",
            entry=found,
            group_labels=_group_labels(),
            languages=LANGUAGES,
            defaults={lang: catalogue_text(found.msgid, lang) for lang in LANGUAGES},
            previews={lang: default_preview(found.msgid, lang) for lang in LANGUAGES},
            overrides={lang: row.text for lang, row in rows.items()},
            edited=edited or {},
            error=error,
            saved=request.args.get("saved", ""),
        ),
        status,
    )


@requires("rules.view")
def text_detail(key: str) -> tuple[str, int]:
    return _detail(key)


@requires("rules.edit")
def text_save(key: str) -> Response | tuple[str, int]:
    language = request.form.get("language", "")
    text = request.form.get("text", "")[: MAX_TEXT_CHARS + 1]
    try:
        save_override(key, language, text)
    except InvalidRequest as exc:
        return _detail(key, _refusal(exc), 400, {language: text})
    return redirect(url_for("admin.text_detail", key=key, saved=language) + f"#{language}")


@requires("rules.edit")
def text_reset(key: str) -> Response:
    language = request.form.get("language", "")
    reset_override(key, language if language in LANGUAGES else "")
    return redirect(url_for("admin.text_detail", key=key, saved=language) + f"#{language}")


@requires("rules.edit")
def text_preview(key: str) -> tuple[Response, int]:
    """The text as the member would read it, or why it would be refused (JSON)."""
    try:
        shown = preview(
            key,
            request.form.get("language", ""),
            request.form.get("text", "")[: MAX_TEXT_CHARS + 1],
        )
    except InvalidRequest as exc:
        return jsonify(ok=False, error=_refusal(exc)), 400
    return jsonify(ok=True, text=shown), 200
