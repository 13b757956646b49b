"""The e-card page a member opens from the menu: the card as a QR code of the code that
changes every minute, refreshed in place from a small JSON endpoint under the same signed
link. Neither keeps anything: a link past its age (or forged) is refused, nothing written."""

from __future__ import annotations

import re
from typing import Any

import qrcode
import qrcode.image.svg
from flask import Blueprint, Response, jsonify, render_template

from app.bot.replies import last4
from app.cards.ecard import (
    PAGE_PATH,
    STEP_SECONDS,
    LinkRefused,
    card_for_token,
    code_for,
    seconds_left,
)
from app.cards.models import Card
from app.i18n import gettext, in_language

bp = Blueprint("wechat_ecard", __name__, url_prefix=PAGE_PATH.rstrip("/"))

_SIZE = re.compile(r'^<svg width="[^"]*" height="[^"]*"')


def qr_svg(text: str) -> str:
    """The QR code of ``text`` as inline SVG that fills its box."""
    image = qrcode.make(
        text,
        image_factory=qrcode.image.svg.SvgPathImage,
        error_correction=qrcode.constants.ERROR_CORRECT_M,
        border=2,
    )
    svg: str = image.to_string(encoding="unicode")
    return _SIZE.sub('<svg width="100%" height="100%" role="img"', svg, count=1)


def grouped(code: str) -> str:
    """``1234 5678 9012 3456 7890``: read aloud or typed at the counter without losing place."""
    return " ".join(code[i : i + 4] for i in range(0, len(code), 4))


def _current(card: Card) -> dict[str, Any]:
    code = code_for(card.id)
    return {
        "code": code,
        "display": grouped(code),
        "svg": qr_svg(code),
        "seconds_left": seconds_left(),
    }


def _private(response: Response) -> Response:
    # The link carries a token and the page a live code: never cached, never sent on.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


@bp.get("/<token>")
def page(token: str) -> Response | tuple[Response, int]:
    try:
        card = card_for_token(token)
    except LinkRefused as refused:
        return _refused_page(refused.reason)
    language = card.member.language if card.member is not None else "zh-Hans"
    with in_language(language):
        texts = {
            "title": gettext("My e-card"),
            "show": gettext("Show this code at the counter. It changes every minute."),
            "card": gettext("Card ending %(card)s", card=last4(card.number)),
            "refresh": gettext("New code in %(seconds)s s"),
            "expired": gettext("This link has expired. Open the e-card again from the menu."),
        }
    html = render_template(
        "wechat/ecard.html",
        language=language,
        texts=texts,
        current=_current(card),
        code_url=f"{PAGE_PATH}{token}/code",
        step_seconds=STEP_SECONDS,
    )
    return _private(Response(html, mimetype="text/html"))


@bp.get("/<token>/code")
def code(token: str) -> Response | tuple[Response, int]:
    try:
        card = card_for_token(token)
    except LinkRefused as refused:
        status = 410 if refused.reason == "expired" else 403
        body = {
            "error": {"code": f"link_{refused.reason}", "message": _refusal_text(refused.reason)}
        }
        return _private(jsonify(body)), status
    return _private(jsonify(_current(card)))


def _refusal_text(reason: str) -> str:
    if reason == "expired":
        return gettext("This link has expired. Open the e-card again from the menu.")
    return gettext("This link is not valid. Open the e-card from the menu.")


def _refused_page(reason: str) -> tuple[Response, int]:
    html = render_template(
        "wechat/ecard.html",
        language="zh-Hans",
        texts={"title": gettext("My e-card")},
        refused=_refusal_text(reason),
    )
    return _private(Response(html, mimetype="text/html")), 410 if reason == "expired" else 403
