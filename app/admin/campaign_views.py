"""The marketers' room: segments (with a live count) and broadcasts (``campaigns.manage``).

Thin over ``app.campaigns.segments`` and ``app.campaigns.broadcasts``: every check is the
services'. A refusal is the form again with the reason (400); an unknown id is 404.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

from flask import abort, jsonify, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from app import clock
from app.admin.guard import current_staff, requires
from app.admin.messages import error_text, gender_labels
from app.campaigns import broadcasts as casts
from app.campaigns import segments
from app.campaigns.models import BROADCAST_CHANNELS
from app.errors import InvalidRequest, LaoyouError, NotFound
from app.i18n import format_list, gettext
from app.limits import MAX_ID

#: Longest definition or text a form may send; longer is refused before parsing.
MAX_DEFINITION_CHARS = 20_000
MAX_FIELD_CHARS = 2_000


def _field(name: str, limit: int = MAX_FIELD_CHARS) -> str:
    return request.form.get(name, "")[: limit + 1]


def _who() -> str:
    staff = current_staff()
    assert staff is not None
    return staff.username


def _definition(raw: str) -> Any:
    if len(raw) > MAX_DEFINITION_CHARS:
        raise InvalidRequest(
            f"definition: at most {MAX_DEFINITION_CHARS} characters",
            reason="segment_definition_size",
            limit=MAX_DEFINITION_CHARS,
        )
    try:
        return json.loads(raw or "{}")
    except (ValueError, RecursionError):
        raise InvalidRequest(
            "definition: this is not valid JSON", field="definition", reason="segment_json"
        ) from None


def _id_or_404(value: int) -> int:
    if value > MAX_ID:
        abort(404)
    return value


def field_labels() -> dict[str, str]:
    """What the segment builder calls each condition."""
    return {
        "age": gettext("Age"),
        "gender": gettext("Gender"),
        "region": gettext("Region"),
        "home_store": gettext("Home store (codes)"),
        "level": gettext("Level"),
        "tag": gettext("Interest tags"),
        "answer": gettext("Questionnaire answer"),
        "occupation": gettext("Occupation"),
        "income_band": gettext("Income band"),
        "points": gettext("Points"),
        "stored_value_fen": gettext("Stored value (fen)"),
        "spend_fen": gettext("Spend in the last days (fen)"),
        "visits": gettext("Visits in the last days"),
        "last_visit": gettext("Last visit"),
        "birthday_month": gettext("Birthday month"),
        "joined": gettext("Joined"),
        "channel_bound": gettext("Channel bound"),
        "opted_in": gettext("Opted in"),
    }


def op_labels() -> dict[str, str]:
    """What the segment builder calls each operator (the same word for every field)."""
    return {
        "gte": gettext("at least"),
        "lte": gettext("at most"),
        "eq": gettext("is"),
        "between": gettext("between (low, high)"),
        "in": gettext("one of (a, b, …)"),
        "at_least": gettext("this level or higher"),
        "has": gettext("has the tag"),
        "has_any": gettext("has any of the tags"),
        "has_all": gettext("has all of the tags"),
        "within_days": gettext("within the last days"),
        "not_within_days": gettext("not within the last days"),
        "before": gettext("before"),
        "after": gettext("after"),
    }


def segment_error_text(exc: LaoyouError) -> str:
    """A refused segment in the staff member's language: the services' ``segment_*`` reason
    said with the builder's own words for fields and operators; anything else (and the two
    limits, which every panel page may meet) as ``error_text`` says it."""
    details = exc.details
    reason = str(details.get("reason", ""))
    say = _segment_texts(details).get(reason.removeprefix("segment_"))
    if not reason.startswith("segment_") or say is None:
        return error_text(exc)
    return say()


def _segment_texts(details: dict[str, Any]) -> dict[str, Callable[[], str]]:
    fields, ops = field_labels(), op_labels()
    name = str(details.get("name", ""))
    field = fields.get(name, name)
    listed = format_list(ops.get(str(op), str(op)) for op in details.get("ops") or ())
    genders = gender_labels()
    allowed = format_list(
        (genders.get(str(v), str(v)) for v in details.get("allowed") or ()), style="or"
    )
    return {
        "json": lambda: gettext("The segment's definition is not valid JSON."),
        "definition_size": lambda: gettext(
            "The segment's definition is too long (at most %(limit)s characters).",
            limit=details.get("limit"),
        ),
        "whole_number": lambda: gettext("A condition's number must be a whole number."),
        "range": lambda: gettext(
            "A condition's number must be between %(low)s and %(high)s.",
            low=details.get("low"),
            high=details.get("high"),
        ),
        "empty_text": lambda: gettext("A condition's text must not be empty."),
        "text_length": lambda: gettext(
            "A condition's text has at most %(limit)s characters.", limit=details.get("limit")
        ),
        "empty_list": lambda: gettext("A condition needs at least one value."),
        "list_size": lambda: gettext(
            "A condition holds at most %(limit)s values.", limit=details.get("limit")
        ),
        "unknown_key": lambda: gettext(
            "A condition has a setting the builder does not know (%(key)s).",
            key=details.get("key"),
        ),
        "no_value": lambda: gettext("A condition needs a value."),
        "low_high": lambda: gettext("A range needs a low and a high number, the low one first."),
        "no_days": lambda: gettext("This condition needs a number of days up to today."),
        "one_of": lambda: gettext("Choose %(allowed)s.", allowed=allowed),
        "unknown_store": lambda: gettext("There is no store with the code %(code)s.", code=name),
        "unknown_level": lambda: gettext("There is no level named %(name)s.", name=name),
        "unknown_question": lambda: gettext("There is no question with the key %(key)s.", key=name),
        "yes_no": lambda: gettext("A yes/no answer is compared with “is” yes or no."),
        "answer_type": lambda: gettext("Answers to this question cannot be searched."),
        "date": lambda: gettext("A date is written YYYY-MM-DD."),
        "first_last": lambda: gettext("A range of days needs the first day, then the last."),
        "not_object": lambda: gettext("A group or condition is missing its settings."),
        "not_node": lambda: gettext(
            "A group is one of all of, any of, not, or a condition with a field."
        ),
        "not_list": lambda: gettext("A group needs a list of conditions."),
        "unknown_field": lambda: gettext("There is no condition called %(name)s.", name=name),
        "ops": lambda: gettext("%(field)s is compared with: %(ops)s.", field=field, ops=listed),
    }


#: Fields whose values are whole numbers (the builder sends numbers, not texts).
_NUMBER_FIELDS = frozenset(
    ("age", "points", "stored_value_fen", "spend_fen", "visits", "last_visit", "birthday_month")
)


def _field_choices() -> dict[str, list[tuple[str, str]]]:
    channels = [("sms", gettext("SMS")), ("wechat", gettext("WeChat"))]
    genders = list(gender_labels().items())
    return {"gender": genders, "channel_bound": channels, "opted_in": channels}


def builder_setup() -> dict[str, Any]:
    """What the page's segment builder needs: the fields with their operators, how each
    value is typed, and its words in the staff member's language. The services still
    check every definition; this only shapes the form."""
    labels, choices = field_labels(), _field_choices()
    fields = [
        {
            "name": name,
            "label": labels.get(name, name),
            "ops": list(spec.ops),
            "kind": "answer"
            if name == "answer"
            else ("number" if name in _NUMBER_FIELDS else "text"),
            "days": name in ("spend_fen", "visits"),
            "question": name == "answer",
            "choices": choices.get(name, []),
        }
        for name, spec in segments.FIELDS.items()
    ]
    words = {
        "match": gettext("Members who match"),
        "all": gettext("all of these (AND)"),
        "any": gettext("any of these (OR)"),
        "none": gettext("none of these (NOT)"),
        "notall": gettext("not all of these (NOT AND)"),
        "group": gettext("Group matching"),
        "condition": gettext("Condition"),
        "how": gettext("How"),
        "value": gettext("Value"),
        "days": gettext("Days"),
        "question": gettext("Question"),
        "add_condition": gettext("Add a condition"),
        "add_group": gettext("Add a group"),
        "remove": gettext("Remove"),
        "remove_condition": gettext("Remove this condition"),
        "remove_group": gettext("Remove this group"),
        "empty": gettext("No conditions yet: every member matches."),
        "empty_group": gettext("This group has no conditions yet."),
        "placeholder": gettext("e.g. tea, or 100, or 2026-01-01"),
    }
    return {"fields": fields, "ops": op_labels(), "words": words, "max_depth": segments.MAX_DEPTH}


def status_labels() -> dict[str, str]:
    return {
        "scheduled": gettext("Scheduled"),
        "queuing": gettext("Queueing"),
        "queued": gettext("Queued"),
        "cancelled": gettext("Called off"),
    }


def channel_labels() -> dict[str, str]:
    return {
        "sms": gettext("SMS"),
        "wechat": gettext("WeChat (bound followers only)"),
        "wechat_or_sms": gettext("WeChat when bound, else SMS"),
    }


# --- segments ---------------------------------------------------------------------------------


@requires("campaigns.manage")
def segments_list() -> str:
    return render_template(
        "admin/segments.html", segments=segments.list_segments(), done=request.args.get("done")
    )


def _segment_page(segment: Any, name: str, definition: str, error: str | None = None) -> str:
    shown = None
    if error is None:
        try:
            shown = segments.preview(json.loads(definition))
        except (LaoyouError, ValueError):
            shown = None
    return render_template(
        "admin/segment_edit.html",
        segment=segment,
        name=name,
        definition=definition,
        error=error,
        preview=shown,
        builder=builder_setup(),
    )


@requires("campaigns.manage")
def segment_new() -> Response | str | tuple[str, int]:
    if request.method == "GET":
        return _segment_page(None, "", json.dumps({"all": []}))
    return _segment_save(None)


@requires("campaigns.manage")
def segment_edit(segment_id: int) -> Response | str | tuple[str, int]:
    try:
        segment = segments.get_segment(_id_or_404(segment_id))
    except NotFound:
        abort(404)
    if request.method == "GET":
        text = json.dumps(segment.definition, ensure_ascii=False, indent=2)
        return _segment_page(segment, segment.name, text)
    return _segment_save(segment)


def _segment_save(segment: Any) -> Response | tuple[str, int]:
    name, raw = _field("name"), _field("definition", MAX_DEFINITION_CHARS)
    try:
        saved = segments.save_segment(
            name,
            _definition(raw),
            created_by=_who(),
            segment_id=segment.id if segment is not None else None,
        )
    except LaoyouError as exc:
        return _segment_page(segment, name, raw, error=segment_error_text(exc)), 400
    return redirect(url_for("admin.segments_list", done=saved.name))


@requires("campaigns.manage")
def segment_preview() -> tuple[Response, int]:
    """The live count: JSON ``{ok, count, sample}`` or ``{ok: false, error}`` (400)."""
    try:
        shown = segments.preview(_definition(_field("definition", MAX_DEFINITION_CHARS)))
    except LaoyouError as exc:
        # ``at`` names the node refused (``definition.all[1].value``): the builder marks it.
        return jsonify(ok=False, error=segment_error_text(exc), at=exc.details.get("field")), 400
    sample = [{"id": i, "phone": phone, "name": name} for i, phone, name in shown.sample]
    return jsonify(ok=True, count=shown.count, sample=sample), 200


# --- broadcasts -------------------------------------------------------------------------------


@requires("campaigns.manage")
def broadcasts_list() -> str:
    return render_template(
        "admin/broadcasts.html",
        broadcasts=casts.list_broadcasts(),
        status_labels=status_labels(),
        channel_labels=channel_labels(),
    )


def _send_at(when: str, at: str) -> dt.datetime | None:
    """None for "now"; else the local date and time typed, as an aware datetime."""
    if when != "later":
        return None
    try:
        local = dt.datetime.fromisoformat(at)
    except ValueError:
        raise InvalidRequest("send_at: a date and time", field="send_at") from None
    if local.tzinfo is not None:
        raise InvalidRequest("send_at: a local date and time", field="send_at")
    return local.replace(tzinfo=clock.zone())


def _form() -> dict[str, Any]:
    return {
        "title": _field("title"),
        "segment": _field("segment"),
        "channels": _field("channels"),
        "when": _field("when"),
        "at": _field("at"),
        "texts": {language: _field(f"text_{language}") for language in casts.LANGUAGES},
    }


def _broadcast_page(form: dict[str, Any], error: str | None = None, previews: Any = None) -> str:
    return render_template(
        "admin/broadcast_new.html",
        form=form,
        error=error,
        previews=previews,
        segments=segments.list_segments(),
        channels=BROADCAST_CHANNELS,
        channel_labels=channel_labels(),
        languages=casts.LANGUAGES,
        placeholders=casts.PLACEHOLDERS,
    )


@requires("campaigns.manage")
def broadcast_new() -> Response | str | tuple[str, int]:
    if request.method == "GET":
        form = {"title": "", "segment": "", "channels": "sms", "when": "now", "at": ""}
        return _broadcast_page({**form, "texts": {}})
    form = _form()
    try:
        if request.form.get("action") == "preview":
            return _broadcast_page(form, previews=casts.preview_texts(form["texts"]))
        segment = form["segment"]
        if segment and not segment.isdigit():
            raise InvalidRequest("segment: choose one of the list", field="segment")
        broadcast = casts.create_broadcast(
            title=form["title"],
            segment_id=_id_or_404(int(segment)) if segment else None,
            channels=form["channels"],
            texts=form["texts"],
            send_at=_send_at(form["when"], form["at"]),
            created_by=_who(),
        )
    except LaoyouError as exc:
        return _broadcast_page(form, error=error_text(exc)), exc.status
    return redirect(url_for("admin.broadcast_detail", broadcast_id=broadcast.id))


def _broadcast_or_404(broadcast_id: int) -> Any:
    try:
        return casts.get_broadcast(_id_or_404(broadcast_id))
    except NotFound:
        abort(404)


@requires("campaigns.manage")
def broadcast_detail(broadcast_id: int) -> str:
    broadcast = _broadcast_or_404(broadcast_id)
    segment = (
        segments.get_segment(broadcast.segment_id) if broadcast.segment_id is not None else None
    )
    return render_template(
        "admin/broadcast.html",
        broadcast=broadcast,
        segment=segment,
        progress=casts.broadcast_progress(broadcast),
        skipped=casts.recipients_page(broadcast.id, skipped_only=True, limit=20),
        stopped=request.args.get("stopped"),
        status_labels=status_labels(),
        channel_labels=channel_labels(),
    )


@requires("campaigns.manage")
def broadcast_cancel(broadcast_id: int) -> Response:
    broadcast = _broadcast_or_404(broadcast_id)
    stopped = casts.cancel_broadcast(broadcast.id)
    return redirect(url_for("admin.broadcast_detail", broadcast_id=broadcast.id, stopped=stopped))
