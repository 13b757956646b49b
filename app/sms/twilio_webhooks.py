"""Twilio's webhooks: inbound SMS and delivery status callbacks. Thin: verify, translate, answer.

Both check ``X-Twilio-Signature`` against ``PUBLIC_BASE_URL`` + the path and
query, not the URL Flask sees: behind a proxy or tunnel the two differ, and
Twilio signs the URL it called. A refused request writes nothing.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

from flask import Blueprint, Request, Response, abort, current_app, request
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from app import clock
from app.bot.message import Message
from app.db import db
from app.i18n import gettext, in_language
from app.limits import MAX_ID
from app.messaging.inbound import receive
from app.messaging.services import record_delivery_status
from app.phone import mask_phone, normalise_phone

log = logging.getLogger("laoyou.sms")

bp = Blueprint("sms_twilio", __name__, url_prefix="/sms")

#: Twilio concatenates at most 1,600 characters; longer is not a member typing.
MAX_BODY_CHARS = 1600
E164 = re.compile(r"\+[1-9][0-9]{7,14}")
#: A Twilio webhook form is a few kilobytes; anything far bigger is refused unread.
MAX_REQUEST_BYTES = 64 * 1024


def signed_url(req: Request) -> str:
    """The URL Twilio signed: our public base, this path, the query string as sent."""
    url = current_app.config["PUBLIC_BASE_URL"] + req.path
    if req.query_string:
        url += "?" + req.query_string.decode("latin-1")
    return url


def _verified_form() -> dict[str, str]:
    """The form, if the request is Twilio's; otherwise abort with 413 or 403."""
    # The request and config once, not through their proxies at every use: this is the
    # hottest request the service has.
    req: Request = request._get_current_object()  # type: ignore[attr-defined]
    length = req.content_length
    if length is not None and length > MAX_REQUEST_BYTES:
        abort(413)
    token = current_app.config["TWILIO_AUTH_TOKEN"]
    signature = req.headers.get("X-Twilio-Signature", "")
    if not token:
        log.warning("Twilio webhook refused: TWILIO_AUTH_TOKEN is not set")
        abort(403)
    if not signature:
        log.warning("Twilio webhook refused: no X-Twilio-Signature")
        abort(403)
    # Read at most the limit, even when the client lied about (or left out) its length.
    raw = req.stream.read(MAX_REQUEST_BYTES + 1)
    if len(raw) > MAX_REQUEST_BYTES:
        abort(413)
    pairs = parse_qsl(raw.decode("utf-8", errors="replace"), keep_blank_values=True)
    form = dict(pairs)
    # Twilio's own check (the URL with and without its port, as Twilio's back ends differ).
    if not RequestValidator(token).validate(signed_url(req), form, signature):
        log.warning("Twilio webhook refused: bad signature for %s", req.path)
        abort(403)
    return form


_TWIML_EMPTY = str(MessagingResponse())
_TWIML_MESSAGE = '<?xml version="1.0" encoding="UTF-8"?><Response><Message>{}</Message></Response>'


def _twiml(text: str | None) -> Response:
    # What MessagingResponse().message(text) renders, without building an XML tree
    # per request (ElementTree escapes &, < and > in text, as escape does).
    body = _TWIML_MESSAGE.format(escape(text)) if text else _TWIML_EMPTY
    return Response(body, mimetype="text/xml")


def _too_long_reply(sender: str) -> str:
    from app.members.services import find_member_by_phone

    member = find_member_by_phone(sender) if sender.startswith("+") else None
    language = member.language if member else current_app.config["DEFAULT_LANGUAGE"]
    with in_language(language):
        return str(
            gettext("Your message is too long (over 1,600 characters). Please send a shorter one.")
        )


@bp.post("/twilio")
def inbound() -> Response:
    form = _verified_form()
    provider_id = form.get("MessageSid") or form.get("SmsSid") or ""
    raw_sender = form.get("From", "")
    # Twilio sends E.164 already; parsing it again is the costliest step of a webhook.
    sender = raw_sender if E164.fullmatch(raw_sender) else normalise_phone(raw_sender) or raw_sender
    text = form.get("Body", "")
    if not provider_id or not sender:
        abort(400)
    if len(text) > MAX_BODY_CHARS:
        log.info("SMS from %s refused: %s characters", mask_phone(sender), len(text))
        return _twiml(_too_long_reply(sender))
    result = receive(
        Message(
            channel="sms",
            sender=sender,
            text=text,
            provider_id=provider_id,
            received_at=clock.now(),
        )
    )
    return _twiml(None if result.silent else result.reply)


@bp.post("/twilio/status")
def status_callback() -> Response:
    form = _verified_form()
    sid = form.get("MessageSid") or form.get("SmsSid") or ""
    status = form.get("MessageStatus") or form.get("SmsStatus") or ""
    outbox_id = request.args.get("outbox_id", type=int)
    if outbox_id is not None and not 0 < outbox_id <= MAX_ID:
        outbox_id = None  # no such row: the sid alone decides
    # A NUL cannot be stored or even looked up on PostgreSQL; no real status carries one.
    readable = not any("\x00" in value for value in form.values())
    row = (
        record_delivery_status(sid, status, outbox_id=outbox_id, error_code=form.get("ErrorCode"))
        if sid and readable
        else None
    )
    if row is None:
        log.info("status callback ignored: %s for unknown message %s", status or "-", sid or "-")
    else:
        db.session.flush()
    return Response("", status=200)
