"""Try the service as any phone: a page (console provider only) and the code behind
``laoyou sms simulate``. Both run the real engine in one unit of work. The page's WeChat
tab types as any openid through ``app.wechat.simulator`` (WeChat's console provider only).

The page is a plain form posting to itself; its CSRF token comes from Flask-WTF,
checked here only (no app-wide CSRFProtect: the API and webhooks are not forms).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, abort, current_app, jsonify, render_template, request
from flask_wtf.csrf import CSRFError, generate_csrf, validate_csrf
from wtforms import ValidationError

from app import clock
from app.bot.message import Message
from app.errors import InvalidRequest
from app.messaging.compose import render
from app.messaging.inbound import receive
from app.messaging.models import OutboxMessage
from app.messaging.services import last_outbox_id, queued_after, queued_for
from app.phone import parse_phone
from app.wechat.simulator import simulate as simulate_wechat

log = logging.getLogger("laoyou.sms")

bp = Blueprint("sms_simulator", __name__, url_prefix="/sms")

MAX_TEXT_CHARS = 1600


@dataclass(frozen=True)
class Exchange:
    phone: str
    text: str
    reply: str
    silent: bool
    command: str | None
    #: The number's newest outbox rows (the page shows them as the phone's screen).
    outbox: list[dict[str, Any]]
    #: What this message queued, to any address (``laoyou sms simulate`` prints these).
    queued: list[dict[str, Any]]


def outbox_view(row: OutboxMessage) -> dict[str, Any]:
    return {
        "id": row.id,
        "address": row.address,
        "kind": row.kind,
        "status": row.status,
        "text": row.sent_body or render(row.kind, row.body, row.language, channel=row.channel),
        "created_at": row.created_at.isoformat(),
        "last_error": row.last_error,
    }


def simulate(phone: str, text: str) -> Exchange:
    """Run one message through the engine as ``phone`` would send it (the caller commits)."""
    e164 = parse_phone(phone)
    if len(text) > MAX_TEXT_CHARS:
        raise InvalidRequest("a text message has at most 1,600 characters", field="text")
    before = last_outbox_id()
    result = receive(
        Message(
            channel="simulator",
            sender=e164,
            text=text,
            # Each simulated message is new; a provider id keeps the inbound record uniform.
            provider_id=f"SIM{uuid.uuid4().hex}",
            received_at=clock.now(),
        )
    )
    return Exchange(
        phone=e164,
        text=text,
        reply=result.reply,
        silent=result.silent,
        command=result.command,
        outbox=[outbox_view(row) for row in queued_for(e164)],
        queued=[outbox_view(row) for row in queued_after(before)],
    )


@bp.before_request
def _console_only() -> None:
    # A simulator next to a real provider (or in production, whatever the provider)
    # would let anyone act as any member.
    if current_app.config["SMS_PROVIDER"] != "console" or (
        current_app.config["LAOYOU_ENV"] == "production"
    ):
        abort(404)


def _wechat_console() -> bool:
    return bool(current_app.config["WECHAT_PROVIDER"] == "console")


@bp.get("/simulator")
def page() -> str:
    phone = request.args.get("phone", "+8613800138000")
    return render_template(
        "sms/simulator.html",
        phone=phone,
        openid=request.args.get("openid", "oSimulator0001"),
        wechat=_wechat_console(),
        csrf_token=generate_csrf(),
    )


@bp.get("/simulator/outbox")
def outbox() -> Response:
    try:
        e164 = parse_phone(request.args.get("phone", ""))
    except InvalidRequest:
        return jsonify({"outbox": []})
    return jsonify({"outbox": [outbox_view(row) for row in queued_for(e164)]})


def _csrf_refused(data: Any) -> tuple[Response, int] | None:
    try:
        validate_csrf(request.headers.get("X-CSRFToken") or data.get("csrf_token"))
    except (ValidationError, CSRFError):
        return jsonify({"error": {"code": "csrf", "message": "reload the page and try again"}}), 400
    return None


@bp.post("/simulator")
def send() -> tuple[Response, int] | Response:
    data = request.get_json(silent=True) or request.form
    refused = _csrf_refused(data)
    if refused is not None:
        return refused
    exchange = simulate(str(data.get("phone", "")), str(data.get("text", "")))
    return jsonify(
        {
            "phone": exchange.phone,
            "reply": exchange.reply,
            "silent": exchange.silent,
            "command": exchange.command,
            "outbox": exchange.outbox,
        }
    )


@bp.get("/simulator/wechat/outbox")
def wechat_outbox() -> Response:
    if not _wechat_console():
        abort(404)
    openid = request.args.get("openid", "")
    return jsonify({"outbox": [outbox_view(row) for row in queued_for(openid)] if openid else []})


@bp.post("/simulator/wechat")
def wechat_send() -> tuple[Response, int] | Response:
    """The WeChat tab: ``{"openid": ..., "text": ...}`` as a follower's text message."""
    if not _wechat_console():
        abort(404)
    data = request.get_json(silent=True) or request.form
    refused = _csrf_refused(data)
    if refused is not None:
        return refused
    exchange = simulate_wechat(str(data.get("openid", "")), str(data.get("text", "")))
    return jsonify(
        {
            "openid": exchange.openid,
            "reply": exchange.reply,
            "silent": exchange.silent,
            "command": exchange.command,
            "outbox": [outbox_view(row) for row in exchange.outbox],
            "queued": [outbox_view(row) for row in exchange.queued],
        }
    )
