"""The counter program: the page's local Flask app and its JSON API on 127.0.0.1.

``Station`` holds what one counter knows: the signed-in staff member (signed out after
``idle_s`` without a request), whether the central service answers, the offline
queue, the devices. ``create_station_app`` serves the counter page and the local API
(names fixed by issue 15: ``POST /local/signin``, ``GET /local/status``,
``POST /local/lookup``, ``POST /local/checkout``, ``POST /local/reprint``, and the
rest of the counter's work). Everything goes to the central service through
``CentralClient`` with the staff member's token, so the journal records who did it.

A POST must be JSON (``Content-Type: application/json``): a web page elsewhere cannot
send that to 127.0.0.1 without the browser asking first, so it cannot ring up a sale.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import queue as queues
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from flask import Flask, Response, g, jsonify, render_template, request
from marshmallow import Schema, ValidationError
from werkzeug.exceptions import HTTPException

import app as app_package
from app.i18n import LOCALES, gettext
from app.i18n import init_app as init_i18n
from app.money import yuan
from app.paths import templates_dir
from app.store_station.counter import schemas
from app.store_station.counter.client import CentralClient, Offline, Refused
from app.store_station.counter.devices import Devices
from app.store_station.counter.events import Event
from app.store_station.counter.printer import PrinterError
from app.store_station.counter.queue import OfflineQueue, QueuedSale, QueueRefused, sync
from app.store_station.counter.receipt import DaySummary, Item, Payment, Receipt

log = logging.getLogger("laoyou.station")

#: Default minutes of no request before the staff member is signed out.
DEFAULT_IDLE_S = 300
#: How often the background sync looks for the central service while offline.
SYNC_INTERVAL_S = 2.0


class LocalError(Exception):
    """A refusal of the local API: ``status`` and a stable ``code`` with a message."""

    def __init__(self, status: int, code: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details


@dataclass
class StaffSession:
    username: str
    display_name: str
    token: str
    shift: str
    last_seen: float


def mask_phone(phone: str) -> str:
    """``+8613800138000`` → ``138****8000``: enough for the staff to check, not to copy."""
    digits = phone[3:] if phone.startswith("+86") else phone.lstrip("+")
    if len(digits) < 8:
        return digits[:2] + "****"
    return digits[:3] + "****" + digits[-4:]


class Station:
    """One counter's state; thread-safe (the page, the SSE stream and the sync run at once)."""

    def __init__(
        self,
        client: CentralClient,
        offline_queue: OfflineQueue,
        devices: Devices,
        *,
        name: str = "counter",
        idle_s: float = DEFAULT_IDLE_S,
        clock: Callable[[], float] = time.monotonic,
        join_url: str = "",
    ) -> None:
        self.client = client
        #: The background sync's own client: a requests session is not shared by threads.
        self.sync_client = client.clone()
        self.join_url = join_url
        #: card number -> the member's WeChat binding QR URL ("" when WeChat gave none).
        self.qr_urls: dict[str, str] = {}
        self.queue = offline_queue
        self.devices = devices
        self.name = name[:32]
        self.idle_s = idle_s
        self.clock = clock
        self.online = True
        self.store_code = ""
        self.session: StaffSession | None = None
        self.last_sync_error = ""
        self._lock = threading.RLock()
        self._subscribers: list[queues.Queue[dict[str, Any]]] = []
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    # --- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        """The devices, the event pump to the page and the background sync."""
        self.devices.start()
        for target, name in ((self._pump, "station-events"), (self._sync_loop, "station-sync")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
        self.devices.stop()

    # --- staff -------------------------------------------------------------------------

    def sign_in(self, username: str, password: str) -> StaffSession:
        try:
            answer = self.client.verify_staff(username, password)
        except Offline:
            self._went_offline()
            raise LocalError(
                503,
                "offline",
                gettext("The central service cannot be reached: staff cannot sign in now."),
            ) from None
        staff = answer["staff"]
        self.store_code = answer["store"]
        with self._lock:
            self.session = StaffSession(
                username=staff["username"],
                display_name=staff["display_name"],
                token=answer["token"],
                shift=uuid.uuid4().hex,
                last_seen=self.clock(),
            )
            return self.session

    def sign_out(self) -> None:
        with self._lock:
            self.session = None

    def signed_in(self) -> StaffSession | None:
        """Who is signed in and not idle, without counting as use (the page's status poll)."""
        with self._lock:
            session = self.session
        if session is None or self.clock() - session.last_seen > self.idle_s:
            return None
        return session

    def current(self, *, touch: bool = True) -> StaffSession:
        """The signed-in staff member, or 401; an idle session ends here."""
        with self._lock:
            session = self.session
            if session is not None and self.clock() - session.last_seen > self.idle_s:
                self.session = session = None
                raise LocalError(
                    401, "signed_out_idle", gettext("Signed out after a while without use.")
                )
            if session is None:
                raise LocalError(401, "sign_in_required", gettext("Sign in first."))
            if touch:
                session.last_seen = self.clock()
            return session

    # --- central calls -----------------------------------------------------------------

    def call(self, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        """A central call; ``Offline`` marks the station offline, ``Refused`` passes on."""
        if not self.online:
            raise Offline("the station is offline", sent=False)
        try:
            return fn(*args, **kw)
        except Offline:
            self._went_offline()
            raise

    def _went_offline(self) -> None:
        if self.online:
            self.online = False
            self.publish({"kind": "online", "online": False})

    def _came_back(self) -> None:
        if not self.online:
            self.online = True
            self.publish({"kind": "online", "online": True})

    # --- events to the page (Server-Sent Events) ---------------------------------------

    def subscribe(self) -> queues.Queue[dict[str, Any]]:
        subscriber: queues.Queue[dict[str, Any]] = queues.Queue(maxsize=100)
        with self._lock:
            self._subscribers.append(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: queues.Queue[dict[str, Any]]) -> None:
        with self._lock:
            if subscriber in self._subscribers:
                self._subscribers.remove(subscriber)

    def publish(self, event: dict[str, Any]) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for subscriber in subscribers:
            # A page that stopped reading misses events; it never blocks the counter.
            with contextlib.suppress(queues.Full):
                subscriber.put_nowait(event)

    def _pump(self) -> None:
        while not self._stop.is_set():
            try:
                event: Event = self.devices.events.get(timeout=0.2)
            except queues.Empty:
                continue
            self.publish(event.as_dict())

    # --- the offline queue's sync ------------------------------------------------------

    def sync_now(self) -> dict[str, Any]:
        """Send what is queued if the service answers; what happened, for the page."""
        if not self.sync_client.ping():
            self._went_offline()
            return {"sent": 0, "refused": 0, "offline": True}
        self._came_back()
        report = sync(
            self.queue,
            self._send_queued,
            is_offline=_is_offline,
            is_refused=_refusal,
        )
        if report.offline:
            self._went_offline()
        if report.sent or report.refused:
            self.publish({"kind": "synced", "sent": report.sent, "refused": report.refused})
        return {"sent": report.sent, "refused": report.refused, "offline": report.offline}

    def _send_queued(self, sale: QueuedSale) -> dict[str, Any]:
        try:
            return self.sync_client.checkout(
                sale.body, key=sale.idempotency_key, staff_token=sale.staff_token
            )
        except Refused as refused:
            if refused.status != 401 or not sale.staff_token:
                raise
            # The staff member's sign-in ended before the service came back (a long outage):
            # the same request without the token, so the sale is not lost (the key's actor).
            return self.sync_client.checkout(sale.body, key=sale.idempotency_key, staff_token=None)

    def _sync_loop(self) -> None:
        while not self._stop.wait(SYNC_INTERVAL_S):
            if self.online and not self.queue.count_pending():
                continue
            try:
                self.sync_now()
            except Exception as exc:  # the loop keeps going; the sale stays pending
                self.last_sync_error = f"{type(exc).__name__}: {exc}"
                log.exception("offline queue sync failed")

    # --- receipts ----------------------------------------------------------------------

    def remember_qr(self, card_number: str, ref: str, member_ref: str | None) -> None:
        """At a lookup: the QR the member's receipts carry (their WeChat binding scene QR).

        Asked once per card while the station runs; WeChat not configured or not answering
        leaves the receipt without it (a stranger's gets the join invitation, if any).
        """
        if member_ref is None:
            return
        if card_number not in self.qr_urls:
            try:
                # Not through ``call``: a slow WeChat must not mark the station offline.
                self.qr_urls[card_number] = self.client.wechat_qr(member_ref)
            except (Refused, Offline):
                self.qr_urls[card_number] = ""
        self.qr_urls[ref] = self.qr_urls[card_number]  # a checkout may name the card either way

    def qr_for(self, card_number: str) -> tuple[str, str]:
        """(payload, caption) of the receipt's QR for this card."""
        url = self.qr_urls.get(card_number, "")
        if url:
            return url, gettext("Scan with WeChat to get your alerts and e-card")
        if self.join_url and card_number not in self.qr_urls:
            return self.join_url, gettext("Scan to join and earn points")
        return "", ""

    def print(self, receipt: Receipt) -> dict[str, Any]:
        """Print, and say whether it printed: a failed print never undoes the sale."""
        try:
            self.devices.print_receipt(receipt)
        except PrinterError as exc:
            return {"printed": False, "print_error": str(exc)}
        return {"printed": True}


def _is_offline(exc: BaseException) -> bool:
    """Try later: unreachable, still running (the key's first request), rate-limited, 5xx."""
    if isinstance(exc, Offline):
        return True
    return isinstance(exc, Refused) and (
        exc.code == "idempotency_in_progress" or exc.status == 429 or exc.status >= 500
    )


def _refusal(exc: BaseException) -> tuple[str, str] | None:
    if isinstance(exc, Refused):
        return exc.code, exc.message
    return None


# --- the Flask app --------------------------------------------------------------------


def create_station_app(station: Station, *, language: str = "zh-Hans") -> Flask:
    """The local app: the page at ``/`` and the JSON API under ``/local/``."""
    flask_app = Flask(
        "app.store_station.counter.station",
        root_path=str(Path(app_package.__file__).parent),
        template_folder=str(templates_dir()),
        static_folder=None,
    )
    flask_app.config.update(DEFAULT_LANGUAGE=language, MAX_CONTENT_LENGTH=64 * 1024)
    flask_app.json.ensure_ascii = False  # type: ignore[attr-defined]
    flask_app.json.sort_keys = False  # type: ignore[attr-defined]
    flask_app.extensions["laoyou.station"] = station
    init_i18n(flask_app)

    @flask_app.before_request
    def _language_and_json() -> None:
        chosen = request.args.get("lang") or request.cookies.get("station_lang")
        if chosen in LOCALES:
            g.laoyou_language = chosen
        if request.method == "POST":
            _check_json_body()

    @flask_app.errorhandler(LocalError)
    def _local_error(exc: LocalError) -> tuple[Response, int]:
        return _error(exc.status, exc.code, exc.message, **exc.details)

    @flask_app.errorhandler(Refused)
    def _refused(exc: Refused) -> tuple[Response, int]:
        # The central service's own refusal, passed on with its code (a POS branches on it).
        return _error(exc.status, exc.code, exc.message, **exc.details)

    @flask_app.errorhandler(Offline)
    def _offline(exc: Offline) -> tuple[Response, int]:
        return _error(
            503, "offline", gettext("The central service cannot be reached: try again later.")
        )

    @flask_app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> tuple[Response, int]:
        status = exc.code or 500
        return _error(status, _HTTP_CODES.get(status, "error"), exc.description or exc.name)

    @flask_app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> tuple[Response, int]:
        log.exception("station request failed")
        return _error(500, "internal_error", gettext("Something went wrong at the station."))

    _routes(flask_app, station)
    return flask_app


_HTTP_CODES = {
    400: "invalid_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def _error(status: int, code: str, message: str, **details: Any) -> tuple[Response, int]:
    return jsonify({"error": {"code": code, "message": message, "details": details}}), status


def _check_json_body() -> None:
    if not request.is_json:
        raise LocalError(
            415, "unsupported_media_type", gettext("Send the body as JSON (application/json).")
        )
    raw = request.get_data(cache=True)
    if b"\\u0000" in raw or b"\x00" in raw:
        raise LocalError(400, "invalid_request", gettext("The request contains a NUL character."))


def _load(schema: Schema) -> dict[str, Any]:
    try:
        body = json.loads(request.get_data(cache=True) or b"{}")
    except ValueError:
        raise LocalError(400, "invalid_request", gettext("The body is not valid JSON.")) from None
    if not isinstance(body, dict):
        raise LocalError(400, "invalid_request", gettext("The body must be a JSON object."))
    try:
        loaded: dict[str, Any] = schema.load(body)
    except ValidationError as exc:
        messages = exc.normalized_messages()
        field = next(iter(messages), None)
        text = "; ".join(
            f"{k}: {' '.join(map(str, v)) if isinstance(v, list) else v}"
            for k, v in messages.items()
        )
        raise LocalError(400, "invalid_request", text, field=field) from None
    return loaded


def _sale_key(station: Station, sale_id: str | None) -> str:
    """The idempotency key of one sale: made once, kept with the sale (and its retries)."""
    return f"{station.name}-{sale_id or uuid.uuid4().hex}"


def _now_text() -> str:
    return dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M")


def _member_view(card: dict[str, Any], member: dict[str, Any] | None) -> dict[str, Any]:
    balances = card.get("balances") or {}
    return {
        "card": {
            "number": card["number"],
            "type": card["type"],
            "state": card["state"],
            "valid_from": card.get("valid_from"),
            "valid_until": card.get("valid_until"),
            "pin_required": bool(card.get("has_pin")),
            "pin_locked_until": card.get("pin_locked_until"),
            "balances": balances,
            # Paid and bonus apart (a return refunds the paid part only); none from an older
            # central service.
            "stored_value": card.get("stored_value"),
        },
        "member": None
        if member is None
        else {
            "name": member.get("name"),
            "phone_masked": mask_phone(member.get("phone") or ""),
            "level": member.get("level_name") or member.get("level"),
            "balances": member.get("balances"),
            "cards": [
                {"number": c["number"], "type": c["type"], "state": c["state"]}
                for c in member.get("cards", [])
            ],
            # Today's promotions for this member (an older central service sends none).
            "promotions": [
                {
                    "id": p["id"],
                    "name": p["name"],
                    "effects": list(p.get("effects") or ()),
                    "ends_at": p.get("ends_at"),
                }
                for p in member.get("promotions") or ()
            ],
        },
    }


def _routes(flask_app: Flask, station: Station) -> None:
    def staff() -> StaffSession:
        return station.current()

    @flask_app.get("/")
    def page() -> str:
        return render_template(
            "station/counter.html",
            idle_s=int(station.idle_s),
            languages=list(LOCALES),
            language=g.get("laoyou_language") or flask_app.config["DEFAULT_LANGUAGE"],
        )

    @flask_app.post("/local/signin")
    def signin() -> Any:
        data = _load(schemas.SignInSchema())
        session = station.sign_in(data["username"], data["password"])
        return {
            "staff": {"username": session.username, "display_name": session.display_name},
            "store": station.store_code,
            "idle_s": station.idle_s,
        }

    @flask_app.post("/local/signout")
    def signout() -> Any:
        station.sign_out()
        return {"signed_in": False}

    @flask_app.get("/local/status")
    def status() -> Any:
        session = station.signed_in()
        return {
            "online": station.online,
            "queued": station.queue.count_pending(),
            "devices": station.devices.as_json(),
            "staff": {"username": session.username, "display_name": session.display_name}
            if session
            else None,
            "store": station.store_code,
            "refused": [
                {
                    "sale": s.idempotency_key,
                    "card": s.card_ref,
                    "amount_fen": s.body.get("amount_fen"),
                    "code": s.refused_code,
                    "message": s.refused_message,
                }
                for s in station.queue.refused()
            ],
        }

    @flask_app.post("/local/lookup")
    def lookup() -> Any:
        staff()
        data = _load(schemas.LookupSchema())
        card = station.call(station.client.card, data["ref"])
        try:
            member = station.call(station.client.member, data["ref"], language=_language(flask_app))
        except Refused as refused:
            if refused.status != 404:
                raise
            member = None  # an anonymous card
        station.remember_qr(card["number"], data["ref"], data["ref"] if member else None)
        return _member_view(card, member)

    @flask_app.post("/local/quote")
    def quote() -> Any:
        staff()
        data = _load(schemas.QuoteSchema())
        body = {"card": data["ref"], "amount_fen": data["amount_fen"]}
        if data["items"]:
            body["items"] = _central_items(data["items"])
        if data["points_offset"]:
            body["points_offset"] = data["points_offset"]
        if data["stored_value_fen"]:
            body["stored_value_fen"] = data["stored_value_fen"]
        quoted = station.call(
            station.client.post,
            "/checkout/quote",
            body,
            staff_token=None,
            language=_language(flask_app),  # the promotions' names in the page's language
        )
        # A split: what the member still hands over is the cash part.
        station.devices.show_due((quoted.get("split") or {}).get("cash_fen", quoted["charged_fen"]))
        return quoted

    @flask_app.post("/local/checkout")
    def checkout() -> Any:
        session = staff()
        data = _load(schemas.CheckoutSchema())
        key = _sale_key(station, data["sale_id"])
        body: dict[str, Any] = {
            "card": data["ref"],
            "store": station.store_code,
            "amount_fen": data["amount_fen"],
            "pay_with": data["pay_with"],
            "station": station.name,
            "external_ref": key,
        }
        if data["items"]:
            body["items"] = _central_items(data["items"])
        if data["points_offset"]:
            body["points_offset"] = data["points_offset"]
        if data["pin"]:
            body["pin"] = data["pin"]
        if data["stored_value_fen"]:
            body["stored_value_fen"] = data["stored_value_fen"]
        tendered = data["cash_tendered_fen"]
        if tendered is not None:
            _check_tendered(station, data, body, tendered)
        try:
            result = station.call(station.client.checkout, body, key=key, staff_token=session.token)
        except Offline as offline:
            return _queue_offline_sale(station, session, data, body, key, sent=offline.sent)
        qr_payload, qr_caption = station.qr_for(data["ref"])
        receipt = _receipt(
            station,
            session,
            "checkout",
            key,
            items=_receipt_items(data["items"]),
            amount_fen=data["amount_fen"],
            discount_fen=result["discount_fen"],
            payments=_payments(data["pay_with"], result, body),
            stored_value_after_fen=result["balances"]["stored_value_fen"],
            points_earned=result["points_earned"],
            points_after=result["balances"]["points"],
            visits_after=result["balances"]["visits"] if data["pay_with"] == "visits" else None,
            cash_tendered_fen=tendered,
            qr_payload=qr_payload,
            qr_caption=qr_caption,
        )
        due = result["cash_fen"] if data["stored_value_fen"] else result["charged_fen"]
        station.devices.show_due(due, result["balances"]["stored_value_fen"])
        return {"sale": key, "queued": False, **result, **station.print(receipt)}, 201

    @flask_app.post("/local/reprint")
    def reprint() -> Any:
        staff()
        try:
            station.devices.reprint()
        except PrinterError as exc:
            raise LocalError(409, "not_printed", str(exc)) from None
        return {"printed": True}

    @flask_app.post("/local/recharge/quote")
    def recharge_quote() -> Any:
        staff()
        data = _load(schemas.RechargeQuoteSchema())
        body = {"card": data["ref"], "amount_fen": data["amount_fen"]}
        return station.call(station.client.post, "/recharge/quote", body, staff_token=None)

    @flask_app.post("/local/recharge")
    def recharge() -> Any:
        session = staff()
        data = _load(schemas.RechargeSchema())
        key = _sale_key(station, data["sale_id"])
        body = {
            "amount_fen": data["amount_fen"],
            "store": station.store_code,
            "station": station.name,
            "external_ref": key,
        }
        result = _post(station, session, f"/cards/{_seg(data['ref'])}/recharge", body, key=key)
        receipt = _receipt(
            station,
            session,
            "recharge",
            key,
            amount_fen=data["amount_fen"],
            recharge_bonus_fen=result["bonus_fen"],
            payments=(Payment("cash", data["amount_fen"]),),
            stored_value_after_fen=result["balances"]["stored_value_fen"],
            points_after=result["balances"]["points"],
        )
        return {"sale": key, **result, **station.print(receipt)}, 201

    def _card_action(session: Any, action: str) -> Any:
        data = _load(schemas.CardActionSchema())
        body = {"reason": data["reason"]} if data["reason"] else None
        return _post(station, session, f"/cards/{_seg(data['ref'])}/{action}", body)

    @flask_app.post("/local/cards/<action>")
    def card_action(action: str) -> Any:
        session = staff()
        if action not in schemas.CARD_ACTIONS:
            raise LocalError(404, "not_found", gettext("No such card action."))
        return _card_action(session, action)

    @flask_app.post("/local/replace")
    def replace() -> Any:
        return _card_action(staff(), "replace")

    @flask_app.post("/local/return")
    def return_card() -> Any:
        session = staff()
        data = _load(schemas.ReturnSchema())
        key = _sale_key(station, None)
        body = {"reason": data["reason"], "station": station.name, "external_ref": key}
        result = _post(station, session, f"/cards/{_seg(data['ref'])}/return", body, key=key)
        receipt = _receipt(
            station,
            session,
            "refund",
            key,
            amount_fen=result["refunded_fen"],
            payments=(Payment("cash", result["refunded_fen"]),),
        )
        return {**result, **station.print(receipt)}, 201

    @flask_app.post("/local/refund")
    def refund() -> Any:
        session = staff()
        data = _load(schemas.RefundSchema())
        key = _sale_key(station, None)
        body: dict[str, Any] = {"station": station.name, "external_ref": key}
        if data["amount_fen"] is not None:
            body["amount_fen"] = data["amount_fen"]
        result = _post(
            station, session, f"/transactions/{data['transaction_id']}/refund", body, key=key
        )
        receipt = _receipt(
            station,
            session,
            "refund",
            key,
            amount_fen=result["refunded_fen"],
            payments=_refund_payments(result),
            stored_value_after_fen=result["balances"]["stored_value_fen"],
            points_after=result["balances"]["points"],
        )
        return {**result, **station.print(receipt)}, 201

    @flask_app.post("/local/redeem")
    def redeem() -> Any:
        session = staff()
        data = _load(schemas.RedeemSchema())
        body: dict[str, Any] = {
            "card": data["ref"],
            "gift": data["gift"],
            "quantity": data["quantity"],
            "station": station.name,
        }
        if data["pin"]:
            body["pin"] = data["pin"]
        return _post(station, session, "/redemptions", body, key=_sale_key(station, None)), 201

    @flask_app.post("/local/issue")
    def issue() -> Any:
        session = staff()
        data = _load(schemas.IssueSchema())
        body: dict[str, Any] = {"type": data["type"]}
        if data["member"]:
            body["member"] = data["member"]
        if data["medium_kind"] and data["medium_value"]:
            body["media"] = [{"kind": data["medium_kind"], "value": data["medium_value"]}]
        elif data["medium_kind"] or data["medium_value"]:
            raise LocalError(
                400,
                "invalid_request",
                gettext("A card medium needs both its kind and its value."),
                field="medium_value",
            )
        return _post(station, session, "/cards", body), 201

    @flask_app.get("/local/day")
    def day() -> Any:
        session = staff()
        date = _day_arg()
        return _online_only(
            station, station.client.day, station.store_code, date, staff_token=session.token
        )

    @flask_app.post("/local/day/print")
    def print_day() -> Any:
        session = staff()
        data = _load(schemas.DaySchema())
        date = data["date"].isoformat() if data["date"] else None
        summary = _online_only(
            station, station.client.day, station.store_code, date, staff_token=session.token
        )
        totals = summary["totals"]
        receipt = _receipt(
            station,
            session,
            "end_of_day",
            summary["date"],
            summary=DaySummary(
                sales_fen=totals["sales_fen"],
                sales_count=totals["sales"],
                recharges_fen=totals["recharges_fen"],
                refunds_fen=totals["refunds_fen"] + totals["returns_fen"],
                new_members=summary["new_members"],
                points_issued=totals["points_issued"],
                points_redeemed=totals["points_redeemed"],
                cash_expected_fen=totals["cash_expected_fen"],
            ),
        )
        return {**summary, **station.print(receipt)}

    @flask_app.post("/local/sync")
    def sync_now() -> Any:
        staff()
        return station.sync_now()

    @flask_app.get("/local/events")
    def events() -> Response:
        subscriber = station.subscribe()

        def stream() -> Iterator[str]:
            try:
                yield "retry: 2000\n\n"
                while True:
                    try:
                        event = subscriber.get(timeout=15)
                    except queues.Empty:
                        yield ": keep-alive\n\n"
                        continue
                    yield f"data: {json.dumps(event, ensure_ascii=False)}\n\n"
            finally:
                station.unsubscribe(subscriber)

        return Response(
            stream(),
            mimetype="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )


def _language(flask_app: Flask) -> str:
    chosen = g.get("laoyou_language")
    return str(chosen or flask_app.config["DEFAULT_LANGUAGE"])


def _day_arg() -> str | None:
    text = request.args.get("date")
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        raise LocalError(
            400, "invalid_request", gettext("The date must be YYYY-MM-DD."), field="date"
        ) from None


def _seg(text: str) -> str:
    return quote(text, safe="")


def _online_only(station: Station, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
    """A call that spends or changes value: refused plainly while offline, never queued."""
    try:
        return station.call(fn, *args, **kw)
    except Offline:
        raise LocalError(503, "offline_not_allowed", _only_cash_offline()) from None


def _post(station: Station, session: Any, path: str, body: Any, *, key: str | None = None) -> Any:
    """POST to the central API as the signed-in staff member, online only."""
    return _online_only(
        station, station.client.post, path, body, staff_token=session.token, key=key
    )


def _only_cash_offline() -> str:
    return gettext(
        "Offline: only cash sales and count-card visits can be taken. "
        "This needs the central service."
    )


def _receipt(station: Station, session: Any, kind: str, number: str, **fields: Any) -> Receipt:
    """A receipt of this store, by the signed-in staff member, now."""
    return Receipt(
        kind=kind,
        store=station.store_code,
        staff=session.display_name,
        time=_now_text(),
        number=number,
        **fields,
    )


def _central_items(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for item in items:
        line: dict[str, Any] = {"amount_fen": item["amount_fen"], "quantity": item["quantity"]}
        if item.get("sku") or item.get("name"):
            line["sku"] = item.get("sku") or item.get("name")
        if item.get("category"):
            line["category"] = item["category"]
        out.append(line)
    return out


def _receipt_items(items: list[dict[str, Any]] | None) -> tuple[Item, ...]:
    return tuple(
        Item(
            name=i.get("name") or i.get("sku") or "-",
            amount_fen=i["amount_fen"],
            quantity=i["quantity"],
            category=i.get("category") or "",
        )
        for i in items or ()
    )


def _check_tendered(
    station: Station, data: dict[str, Any], body: dict[str, Any], tendered: int
) -> None:
    """Cash handed over covers the cash to take (the quote's, or the list price offline,
    where no discount applies), or a 400 before anything is posted."""
    if data["pay_with"] != "cash":
        raise LocalError(
            400,
            "invalid_request",
            gettext("Cash tendered goes with a payment in cash."),
            field="cash_tendered_fen",
        )
    fields = ("card", "amount_fen", "items", "points_offset", "stored_value_fen")
    quote: dict[str, Any] = {k: body[k] for k in fields if k in body}
    try:
        quoted = station.call(station.client.post, "/checkout/quote", quote, staff_token=None)
    except Offline:
        # A split is refused offline anyway (the queue's own answer, next).
        due = data["amount_fen"] - (data["stored_value_fen"] or 0)
    else:
        due = (quoted.get("split") or {}).get("cash_fen", quoted["charged_fen"])
    if tendered < due:
        raise LocalError(
            400,
            "tendered_short",
            gettext("The cash tendered is less than the cash to pay (%(due)s).", due=yuan(due)),
            field="cash_tendered_fen",
            cash_due_fen=due,
        )


def _refund_payments(result: dict[str, Any]) -> tuple[Payment, ...]:
    """Where a refund's money goes: onto the card, in cash (the drawer opens for it).

    Only what the central service says, so an older one (without the parts) prints none."""
    parts = (
        Payment("stored_value", int(result.get("stored_value_back_fen") or 0)),
        Payment("cash", int(result.get("cash_back_fen") or 0)),
    )
    return tuple(p for p in parts if p.amount_fen)


def _payments(pay_with: str, result: dict[str, Any], body: dict[str, Any]) -> tuple[Payment, ...]:
    if pay_with == "visits":
        # As the central checkout counts them: the items' quantities, else one visit.
        items = body.get("items") or ()
        return (Payment("visits", 0, visits=sum(int(i["quantity"]) for i in items) or 1),)
    if body.get("stored_value_fen"):
        # A split tender: the card's part and the cash part, as the central service took them.
        paid = [
            Payment("stored_value", result["stored_value_fen"]),
            Payment("cash", result["cash_fen"]),
        ]
    else:
        paid = [Payment(pay_with, result["charged_fen"])]
    points = int(body.get("points_offset") or 0)
    if points and "discount_fen" in result:
        # What the points paid: the bill after its discounts, less what was charged.
        coupons_fen = sum(c["discount_fen"] for c in result.get("coupons", ()))
        offset_fen = body["amount_fen"] - result["discount_fen"] - coupons_fen
        paid.append(Payment("points", offset_fen - result["charged_fen"], points=points))
    return tuple(paid)


def _queue_offline_sale(
    station: Station,
    session: StaffSession,
    data: dict[str, Any],
    body: dict[str, Any],
    key: str,
    *,
    sent: bool,
) -> tuple[dict[str, Any], int]:
    """Offline: keep a cash sale or a count-card visit for the sync; refuse the rest.

    The till takes the list price (it cannot ask the rules), so a cash sale is sent as
    that (``list_price``): the journal, the receipt and the drawer agree. Not when the
    failed request may have reached the service (``sent``): the resend must be the same
    request, so the key replays a first posting (with its discount) instead of meeting
    it with another body."""
    at_list_price = not sent and body["pay_with"] == "cash"
    if at_list_price:
        body = {**body, "list_price": True}
    try:
        station.queue.add(
            key=key,
            card_ref=data["ref"],
            shift=session.shift,
            staff=session.username,
            staff_token=session.token,
            body=body,
        )
    except QueueRefused as refused:
        message = (
            _only_cash_offline()
            if refused.code == "offline_not_allowed"
            else gettext("Offline limit reached: %(why)s", why=refused.message)
        )
        raise LocalError(503, refused.code, message) from None
    receipt = _receipt(
        station,
        session,
        "checkout",
        key,
        items=_receipt_items(data["items"]),
        amount_fen=data["amount_fen"],
        payments=_payments(data["pay_with"], {"charged_fen": data["amount_fen"]}, body),
        cash_tendered_fen=data["cash_tendered_fen"],
        footer=gettext("Offline sale at the list price: points are added when the line is back.")
        if at_list_price
        else gettext("Offline sale: points and discounts are settled when the line is back."),
    )
    queued = station.queue.count_pending()
    station.publish({"kind": "queued", "queued": queued})
    return {"sale": key, "queued": True, "pending": queued, **station.print(receipt)}, 202
