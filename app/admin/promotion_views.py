"""Promotions (``campaigns.manage``): the list with each one's figures, new, edit, end early.

The form's text is read here (local date and time, yuan, "1.5" times); every rule is
``app.campaigns.promotions.check_terms``'s, so a refusal names the field and changes
nothing. Each change is audited by the service.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from app import clock
from app.admin.guard import requires
from app.campaigns import promotions as service
from app.campaigns.promotion_models import (
    MAX_BONUS_POINTS,
    MAX_MULTIPLIER_BP,
    PROMOTION_NAME_COLUMNS,
    Promotion,
)
from app.campaigns.segments import list_segments
from app.errors import InvalidRequest, LaoyouError
from app.i18n import gettext, request_language
from app.ledger.redemption.services import list_coupon_types
from app.ledger.rules.io import category_codes
from app.members.services import list_levels
from app.money import parse_yuan, yuan
from app.stores.services import list_stores

#: Longest text any field of the form reads; longer is refused by the service's limits.
MAX_INPUT_CHARS = 200
_MOMENT = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}$")
_WHOLE = re.compile(r"^\d{1,12}$")
_TIMES = re.compile(r"^\d{1,3}(\.\d{1,4})?$")


def _field(name: str) -> str:
    return request.form.get(name, "")[:MAX_INPUT_CHARS].strip()


def _moment(name: str) -> dt.datetime:
    """``YYYY-MM-DDTHH:MM`` in the programme's time zone, as an aware datetime."""
    text = _field(name)
    if not _MOMENT.match(text):
        raise InvalidRequest(f"{name} must be a date and time", field=name, reason="moment")
    try:
        local = dt.datetime.strptime(text.replace(" ", "T"), "%Y-%m-%dT%H:%M")
    except ValueError:
        raise InvalidRequest(
            f"{name} must be a date and time", field=name, reason="moment"
        ) from None
    return local.replace(tzinfo=clock.zone())


def _read_terms() -> service.PromotionTerms:
    """The posted form as terms; a field that cannot be read is ``InvalidRequest``."""
    names = {language: _field(column) for language, column in PROMOTION_NAME_COLUMNS.items()}
    level = _field("level")
    if level and not _WHOLE.match(level):
        raise InvalidRequest("no such level", field="level", reason="unknown")
    segment = _field("segment")
    if segment and not _WHOLE.match(segment):
        raise InvalidRequest("no such segment", field="segment", reason="unknown")
    spend = _field("min_spend") or "0"
    try:
        min_spend_fen = parse_yuan(spend)
    except ValueError:
        raise InvalidRequest(
            "min_spend must be an amount of yuan", field="min_spend_fen", reason="amount"
        ) from None
    multiplier = _field("multiplier") or "1"
    try:
        if not _TIMES.match(multiplier):
            raise InvalidOperation
        multiplier_bp = int(Decimal(multiplier) * 10000)
    except InvalidOperation:
        raise InvalidRequest(
            "multiplier must be a number such as 2 or 1.5",
            field="multiplier_bp",
            reason="out_of_range",
            low=10000,
            high=MAX_MULTIPLIER_BP,
        ) from None
    bonus = _field("bonus_points") or "0"
    if not _WHOLE.match(bonus):
        raise InvalidRequest(
            "bonus_points must be a whole number",
            field="bonus_points",
            reason="out_of_range",
            low=0,
            high=MAX_BONUS_POINTS,
        )
    return service.PromotionTerms(
        names=names,
        starts_at=_moment("starts_at"),
        ends_at=_moment("ends_at"),
        level_id=int(level) if level else None,
        segment_id=int(segment) if segment else None,
        store_code=_field("store") or None,
        min_spend_fen=min_spend_fen,
        category=_field("category") or None,
        multiplier_bp=multiplier_bp,
        bonus_points=int(bonus),
        coupon_type=_field("coupon_type") or None,
    )


def _refusal(exc: LaoyouError) -> str:
    """A refusal as a sentence in the staff member's language."""
    field, reason = exc.details.get("field"), exc.details.get("reason")
    if isinstance(exc, service.PromotionEnded):
        return gettext("This promotion has ended; it can no longer be changed.")
    if reason == "no_name":
        return gettext("Give the promotion a name in at least one language.")
    if reason == "name_too_long":
        return gettext("A name is one line of at most 120 characters.")
    if reason == "moment":
        return gettext("Enter the start and the end as a date and a time.")
    if reason == "window_order":
        return gettext("The end must be after the start.")
    if reason == "window_length":
        return gettext("A promotion runs at most three years.")
    if field == "level":
        return gettext("Choose a level from the list.")
    if field == "segment":
        return gettext("Choose a segment from the list.")
    if field == "store":
        return gettext("Choose a store from the list.")
    if field == "coupon_type":
        return gettext("Choose a coupon from the list.")
    if field == "min_spend_fen":
        return gettext("The minimum spend is an amount of yuan, such as 100 or 99.50.")
    if field == "category" and reason == "unknown":
        return gettext("Choose a category of the rules' list.")
    if field == "category":
        return gettext("A category is at most 64 characters.")
    if field == "multiplier_bp":
        return gettext("The points multiplier is from 1 to 10 times, such as 2 or 1.5.")
    if field == "bonus_points":
        return gettext("Bonus points are a whole number from 0 to 100000.")
    if reason == "no_effect":
        return gettext(
            "Give the promotion an effect: a multiplier above 1, bonus points or a coupon."
        )
    return gettext("The form could not be read.")


def _form_of(promotion: Promotion) -> dict[str, str]:
    """A promotion as the form shows it (local times, yuan, times)."""
    form = {column: getattr(promotion, column) or "" for column in PROMOTION_NAME_COLUMNS.values()}
    form.update(
        starts_at=clock.to_local(promotion.starts_at).strftime("%Y-%m-%dT%H:%M"),
        ends_at=clock.to_local(promotion.ends_at).strftime("%Y-%m-%dT%H:%M"),
        level=str(promotion.level_id or ""),
        segment=str(promotion.segment_id or ""),
        store=promotion.store.code if promotion.store is not None else "",
        min_spend=yuan(promotion.min_spend_fen) if promotion.min_spend_fen else "",
        category=promotion.category or "",
        multiplier=service.times_text(promotion.multiplier_bp),
        bonus_points=str(promotion.bonus_points or ""),
        coupon_type=promotion.coupon_type or "",
    )
    return form


def _choices() -> dict[str, Any]:
    language = request_language()
    return {
        "levels": [(level.id, level.name_in(language)) for level in list_levels()],
        "segments": [(segment.id, segment.name) for segment in list_segments()],
        "stores": list_stores(),
        "coupon_types": list_coupon_types(),
        "categories": category_codes(),
        "name_columns": PROMOTION_NAME_COLUMNS,
        "language": language,
    }


def _status_labels() -> dict[str, str]:
    return {
        "scheduled": gettext("Scheduled"),
        "in_force": gettext("In force"),
        "ended": gettext("Ended"),
    }


@requires("campaigns.manage")
def promotions_list() -> str:
    found = service.list_promotions()
    return render_template(
        "admin/promotions.html",
        promotions=found,
        figures=service.figures([p.id for p in found]),
        status=service.status,
        status_labels=_status_labels(),
        language=request_language(),
        effects=service.effect_parts,
    )


@requires("campaigns.manage")
def promotion_new() -> Response | tuple[str, int]:
    if request.method == "GET":
        today = clock.local_today()
        form = {
            "starts_at": f"{today.isoformat()}T00:00",
            "ends_at": f"{(today + dt.timedelta(days=7)).isoformat()}T00:00",
            "multiplier": "1",
        }
        return render_template("admin/promotion_edit.html", form=form, **_choices()), 200
    try:
        promotion = service.create_promotion(_read_terms())
    except InvalidRequest as exc:
        return render_template(
            "admin/promotion_edit.html",
            form=request.form,
            error=_refusal(exc),
            **_choices(),
        ), 400
    return redirect(url_for("admin.promotion_page", promotion_id=promotion.id, saved=1))


def _page(promotion: Promotion, **extra: Any) -> str:
    return render_template(
        "admin/promotion.html",
        promotion=promotion,
        figures=service.figures([promotion.id]).get(promotion.id, service.PromotionFigures()),
        state=service.status(promotion),
        status_labels=_status_labels(),
        effects=service.effect_parts,
        form=extra.pop("form", None) or _form_of(promotion),
        **_choices(),
        **extra,
    )


@requires("campaigns.manage")
def promotion_page(promotion_id: int) -> str:
    promotion = service.get_promotion(promotion_id)
    return _page(promotion, saved=request.args.get("saved"), ended=request.args.get("ended"))


@requires("campaigns.manage")
def promotion_save(promotion_id: int) -> Response | tuple[str, int]:
    promotion = service.get_promotion(promotion_id)
    try:
        service.update_promotion(promotion, _read_terms())
    except (InvalidRequest, service.PromotionEnded) as exc:
        status = exc.status
        return _page(promotion, form=request.form, error=_refusal(exc)), status
    return redirect(url_for("admin.promotion_page", promotion_id=promotion.id, saved=1))


@requires("campaigns.manage")
def promotion_end(promotion_id: int) -> Response | tuple[str, int]:
    promotion = service.get_promotion(promotion_id)
    try:
        service.end_promotion(promotion)
    except service.PromotionEnded as exc:
        return _page(promotion, error=_refusal(exc)), exc.status
    return redirect(url_for("admin.promotion_page", promotion_id=promotion.id, ended=1))
