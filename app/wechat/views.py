"""``/wechat``: the official account's server URL. Thin: verify, read, answer, reply.

GET is WeChat's server verification (``echostr`` back); POST is a message or event, in
plaintext, compatible or safe mode (``encrypt_type=aes``: the reply is encrypted too).
Our own view rather than werobot's ``make_view``: that one answers ``text/html``, ends a
bad ``msg_signature``, a missing ``MsgType`` or a GET without ``echostr`` in a 500, and
swallows handler errors. A refused request writes nothing.
"""

from __future__ import annotations

import logging
import time

from flask import Blueprint, Request, Response, current_app, request

from app.bot.replies import something_went_wrong
from app.db import db
from app.i18n import in_language
from app.wechat import inbound, transport
from app.wechat.transport import MAX_BODY_BYTES, MAX_ECHOSTR_CHARS, Refused

log = logging.getLogger("laoyou.wechat")

bp = Blueprint("wechat_webhook", __name__)

#: The silent answer WeChat documents: no reply, and no retry.
SUCCESS = "success"


@bp.errorhandler(Refused)
def _refused(exc: Refused) -> Response:
    log.warning("WeChat request refused (%s): %s", exc.status, exc.reason)
    body = "forbidden" if exc.status == 403 else exc.reason
    return Response(body, status=exc.status, mimetype="text/plain")


@bp.get("/wechat")
def verify() -> Response:
    """WeChat's check of the server URL: the signature, then ``echostr`` back verbatim."""
    transport.check_signature(request.args)
    echostr = request.args.get("echostr")
    if echostr is None:
        raise Refused(400, "no echostr")
    if len(echostr) > MAX_ECHOSTR_CHARS or not echostr.isprintable():
        raise Refused(400, "echostr is no WeChat echostr")
    return Response(echostr, mimetype="text/plain")


@bp.post("/wechat")
def receive() -> Response:
    req: Request = request._get_current_object()  # type: ignore[attr-defined]
    if req.content_length is not None and req.content_length > MAX_BODY_BYTES:
        raise Refused(413, f"body of {req.content_length} bytes")
    transport.check_signature(req.args)
    # Read at most the limit, even when the client lied about (or left out) its length.
    raw = req.stream.read(MAX_BODY_BYTES + 1)
    if len(raw) > MAX_BODY_BYTES:
        raise Refused(413, "body over the limit")
    fields = transport.parse_xml(raw)
    encrypted = req.args.get("encrypt_type", "raw").lower() == "aes"
    if encrypted:
        fields = transport.decrypt(req.args, fields)
    message = transport.read_message(fields)
    try:
        result = inbound.answer(message, fields)
    except Exception:
        # The engine and the event answers answer their own errors politely; this is
        # anything else (the database going away): logged, undone, and a polite reply.
        log.exception("WeChat %s from %s failed", message.type, str(message.source)[:4] + "****")
        if current_app.config.get("BOT_RAISE_ERRORS"):
            raise
        db.session.rollback()
        reply = _sorry()
    else:
        reply = "" if result.silent else result.reply
    if not reply:
        return Response(SUCCESS, mimetype="text/plain")
    xml = transport.text_reply(
        to_user=str(message.source),
        from_user=str(message.target or ""),
        content=reply,
        create_time=int(time.time()),
    )
    if encrypted:
        xml = transport.encrypt_reply(xml)
    return Response(xml, mimetype="application/xml")


def _sorry() -> str:
    with in_language(current_app.config["DEFAULT_LANGUAGE"]):
        return something_went_wrong()
