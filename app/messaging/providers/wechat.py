"""The WeChat official account API: a small client, its shared access token, two senders.

werobot's client hard-codes api.weixin.qq.com, waits forever and keeps the access token
in memory; WeChat allows one valid token per account (a new one ends the old within
minutes), so every process must share one. Here:

- ``WechatClient`` calls ``WECHAT_API_BASE_URL`` with ``requests`` and a timeout
  (``WECHAT_API_TIMEOUT_SECONDS``): template and customer-service messages, the custom
  menu, scene QR tickets.
- The access token lives in ``wechat_access_token`` (one row per app id). It is
  refreshed ``TOKEN_MARGIN`` before it expires, and once when WeChat calls it invalid
  (40001, 42001, 40014). A refresh locks the row (``SELECT … FOR UPDATE`` after an
  ``INSERT … ON CONFLICT DO NOTHING`` so the first refresh has a row to lock) in a short
  transaction of its own and asks WeChat while holding it: every other process waits,
  then finds the new token and asks nothing. SQLite serialises writers anyway.
- Answers are classified like the SMS sender's: ``TransientError`` (timeouts, connection
  errors, 5xx, -1 system busy, 45009 / 45011 rate limits, configuration errors a fix
  cures) is retried by the dispatcher with back-off; ``PermanentError`` (43004 not
  following, 43101 refused template messages, 40003 bad openid, …) fails the message.

Template messages: the row keeps the rendered body, so the template data is one field,
``{"content": {"value": <body>}}``: the account's template for each alert type shows
``{{content.DATA}}``. ``client_msg_id`` (``outbox-<id>``) makes WeChat drop a second send
of the same row, which closes the at-least-once window of a timed-out send.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote

import requests
from flask import Flask
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from app import clock
from app.db import separate_transaction
from app.messaging.models import WechatAccessToken
from app.messaging.providers.base import PermanentError, SendResult, TransientError

log = logging.getLogger("laoyou.wechat.api")

#: Refresh this long before WeChat's expiry (tokens last 7,200 s).
TOKEN_MARGIN = dt.timedelta(minutes=5)
#: invalid credential, access_token expired, access_token modified: refresh once, try again.
TOKEN_ERRORS = frozenset({40001, 42001, 40014})
#: System busy and rate limits: a later attempt may pass.
TRANSIENT_CODES = frozenset({-1, 45009, 45011, 45033})
#: Wrong app id or secret, an IP not on the whitelist, a missing parameter of our own
#: making: every message fails until the configuration is fixed, after which it should go.
CONFIG_CODES = frozenset({40013, 40125, 40164, 41001, 41002, 41004, 48001})
#: The follower unsubscribed (WeChat: "require subscribe").
WECHAT_UNSUBSCRIBED = 43004
#: The follower refused template messages from this account.
WECHAT_TEMPLATE_REFUSED = 43101
#: WeChat's page that draws the QR of a ticket.
SHOWQRCODE_URL = "https://mp.weixin.qq.com/cgi-bin/showqrcode?ticket="
#: WeChat's limits: a temporary QR lives up to 30 days; ``scene_str`` is 1 to 64 characters.
QR_MAX_EXPIRE_SECONDS = 2_592_000


class WechatTransientError(TransientError):
    """A WeChat answer worth another attempt; ``code`` is WeChat's errcode (None: no answer)."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class WechatPermanentError(PermanentError):
    """WeChat refused for good; ``code`` is its errcode."""


@dataclass(frozen=True)
class QrTicket:
    ticket: str
    #: What the QR encodes (``http://weixin.qq.com/q/…``): a station may draw it itself.
    url: str
    #: None for a permanent QR.
    expire_seconds: int | None

    @property
    def show_url(self) -> str:
        """WeChat's image of this QR."""
        return SHOWQRCODE_URL + quote(self.ticket, safe="")


@dataclass(frozen=True)
class _Token:
    value: str
    expires_at: dt.datetime

    def fresh(self, now: dt.datetime) -> bool:
        return bool(self.value) and self.expires_at - TOKEN_MARGIN > now


def classify(errcode: int, errmsg: str, what: str) -> Exception:
    """The error to raise for WeChat's ``errcode`` answer to ``what`` (a call's name)."""
    text = f"WeChat {what}: {errcode} {errmsg}"[:300]
    if errcode in TRANSIENT_CODES or errcode in CONFIG_CODES or errcode in TOKEN_ERRORS:
        return WechatTransientError(text, errcode)
    return WechatPermanentError(text, errcode)


class WechatClient:
    """The few calls Laoyou makes, with the access token shared through the database."""

    def __init__(self, base_url: str, app_id: str, app_secret: str, timeout: float) -> None:
        self.base_url = base_url.rstrip("/")
        self.app_id = app_id
        self.app_secret = app_secret
        self.timeout = timeout
        # The last token this process saw: most calls then read no row.
        self._memo: _Token | None = None
        self._memo_lock = threading.Lock()
        # requests.Session is not promised to be thread-safe; the web and the dispatcher
        # thread of ``laoyou run --with-dispatcher`` share one client.
        self._local = threading.local()

    @classmethod
    def from_config(cls, config: Any) -> WechatClient:
        return cls(
            config["WECHAT_API_BASE_URL"],
            config["WECHAT_APP_ID"],
            config["WECHAT_APP_SECRET"],
            float(config["WECHAT_API_TIMEOUT_SECONDS"]),
        )

    # --- the calls --------------------------------------------------------------------

    def send_template(
        self,
        openid: str,
        template_id: str,
        data: dict[str, dict[str, str]],
        *,
        client_msg_id: str | None = None,
        url: str | None = None,
    ) -> str:
        """Send a template message; returns WeChat's msgid."""
        payload: dict[str, Any] = {"touser": openid, "template_id": template_id, "data": data}
        if url:
            payload["url"] = url
        if client_msg_id:
            payload["client_msg_id"] = client_msg_id
        answer = self.call("/cgi-bin/message/template/send", payload, what="template send")
        return str(answer.get("msgid", ""))

    def send_text(self, openid: str, content: str) -> None:
        """A customer-service text (allowed within 48 hours of the follower's last message)."""
        payload = {"touser": openid, "msgtype": "text", "text": {"content": content}}
        self.call("/cgi-bin/message/custom/send", payload, what="customer-service send")

    def create_menu(self, menu: dict[str, Any]) -> None:
        self.call("/cgi-bin/menu/create", menu, what="menu create")

    def create_qr_ticket(
        self, scene: str, *, permanent: bool, expire_seconds: int | None = None
    ) -> QrTicket:
        """A ticket for a string-scene QR: temporary (QR_STR_SCENE) or permanent."""
        payload: dict[str, Any] = {
            "action_name": "QR_LIMIT_STR_SCENE" if permanent else "QR_STR_SCENE",
            "action_info": {"scene": {"scene_str": scene}},
        }
        if not permanent:
            payload["expire_seconds"] = expire_seconds
        answer = self.call("/cgi-bin/qrcode/create", payload, what="QR ticket")
        ticket, url = answer.get("ticket"), answer.get("url")
        if not isinstance(ticket, str) or not ticket or not isinstance(url, str):
            raise WechatTransientError("WeChat QR ticket: an answer without a ticket")
        seconds = answer.get("expire_seconds")
        return QrTicket(ticket, url, None if permanent else int(seconds or expire_seconds or 0))

    # --- the access token ---------------------------------------------------------------

    def access_token(self, *, stale: str | None = None) -> str:
        """A token valid for a few minutes more; ``stale``: WeChat just refused that one."""
        now = clock.now()
        with self._memo_lock:
            memo = self._memo
        if memo is not None and memo.value != stale and memo.fresh(now):
            return memo.value
        found = self._read_token()
        if found is not None and found.value != stale and found.fresh(now):
            token = found
        else:
            token = self._refresh_token(stale)
        with self._memo_lock:
            self._memo = token
        return token.value

    def _read_token(self) -> _Token | None:
        with separate_transaction() as session:
            row = session.execute(
                select(WechatAccessToken.token, WechatAccessToken.expires_at).where(
                    WechatAccessToken.app_id == self.app_id
                )
            ).first()
        return None if row is None else _Token(row.token, row.expires_at)

    def _refresh_token(self, stale: str | None) -> _Token:
        """Ask WeChat for a token unless another process did meanwhile; one at a time."""
        with separate_transaction() as session:
            connection = session.connection()
            insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
            now = clock.now()
            # A row to lock, even the very first time (two first refreshes meet here).
            connection.execute(
                insert(WechatAccessToken)
                .values(app_id=self.app_id, token="", expires_at=now, refreshed_at=now)
                .on_conflict_do_nothing(index_elements=["app_id"])
            )
            row = session.scalars(
                select(WechatAccessToken)
                .where(WechatAccessToken.app_id == self.app_id)
                .with_for_update()
                .execution_options(populate_existing=True)
            ).one()
            current = _Token(row.token, row.expires_at)
            if current.value != stale and current.fresh(clock.now()):
                return current  # another process refreshed while we waited for the lock
            value, expires_in = self._fetch_token()
            now = clock.now()
            row.token = value
            row.expires_at = now + dt.timedelta(seconds=expires_in)
            row.refreshed_at = now
            session.flush()
            log.info("WeChat access token refreshed for %s (%s s)", self.app_id, expires_in)
            return _Token(row.token, row.expires_at)

    def _fetch_token(self) -> tuple[str, int]:
        answer = self._request(
            "GET",
            "/cgi-bin/token",
            params={
                "grant_type": "client_credential",
                "appid": self.app_id,
                "secret": self.app_secret,
            },
            what="token",
        )
        errcode = int(answer.get("errcode") or 0)
        if errcode:
            raise classify(errcode, str(answer.get("errmsg", "")), "token")
        token, expires_in = answer.get("access_token"), answer.get("expires_in")
        if not isinstance(token, str) or not token or not isinstance(expires_in, int):
            raise WechatTransientError("WeChat token: an answer without a token")
        return token, expires_in

    # --- HTTP ---------------------------------------------------------------------------

    def call(self, path: str, payload: dict[str, Any], *, what: str) -> dict[str, Any]:
        """POST ``payload`` with the access token; refreshes it once if WeChat refuses it."""
        token = self.access_token()
        answer = self._post(path, token, payload, what)
        errcode = int(answer.get("errcode") or 0)
        if errcode in TOKEN_ERRORS:
            log.info("WeChat %s: token refused (%s); refreshing once", what, errcode)
            token = self.access_token(stale=token)
            answer = self._post(path, token, payload, what)
            errcode = int(answer.get("errcode") or 0)
        if errcode:
            raise classify(errcode, str(answer.get("errmsg", "")), what)
        return answer

    def _post(self, path: str, token: str, payload: dict[str, Any], what: str) -> dict[str, Any]:
        # WeChat shows \\u escapes literally in some places (menus): send UTF-8 as is.
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        return self._request(
            "POST",
            path,
            params={"access_token": token},
            data=body,
            headers={"Content-Type": "application/json; charset=utf-8"},
            what=what,
        )

    def _request(self, method: str, path: str, *, what: str, **kwargs: Any) -> dict[str, Any]:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        try:
            response = session.request(method, self.base_url + path, timeout=self.timeout, **kwargs)
        # The exceptions' text holds the URL, and with it the secret or the token: only
        # their kind is kept.
        except requests.Timeout as exc:
            raise WechatTransientError(f"WeChat {what}: timeout") from exc
        except requests.RequestException as exc:
            raise WechatTransientError(f"WeChat {what}: {type(exc).__name__}") from exc
        if response.status_code >= 500 or response.status_code == 429:
            raise WechatTransientError(f"WeChat {what}: HTTP {response.status_code}")
        if response.status_code != 200:
            raise WechatPermanentError(f"WeChat {what}: HTTP {response.status_code}")
        try:
            answer = response.json()
        except ValueError as exc:
            # A proxy's error page, a truncated answer: not WeChat's word on the message.
            raise WechatTransientError(f"WeChat {what}: not JSON") from exc
        if not isinstance(answer, dict):
            raise WechatTransientError(f"WeChat {what}: not a JSON object")
        return answer


# --- senders -------------------------------------------------------------------------


class WechatSender(Protocol):
    """What the dispatcher needs of a WeChat provider (``to`` is the openid)."""

    sender_id: str
    #: Whether the dispatcher spaces sends by ``WECHAT_RATE_PER_SECOND``.
    rate_limited: bool

    def send(
        self, to: str, body: str, *, outbox_id: int, alert_type: str | None = None
    ) -> SendResult: ...


def template_data(body: str) -> dict[str, dict[str, str]]:
    """The template message's data for a rendered alert (see the module's docstring)."""
    return {"content": {"value": body}}


class WechatConsoleSender:
    """The demo and development provider: the message goes to the log, marked sent."""

    sender_id = "wechat-console"
    #: The log has no API quota to keep under.
    rate_limited = False

    def send(
        self, to: str, body: str, *, outbox_id: int, alert_type: str | None = None
    ) -> SendResult:
        how = f"template ({alert_type})" if alert_type else "text"
        log.info("WeChat %s to %s… (outbox %s): %s", how, to[:6], outbox_id, body)
        return SendResult(provider_id=None, status="sent")


class WechatApiSender:
    """Alerts with a configured template id as template messages; the rest as text."""

    rate_limited = True

    def __init__(self, client: WechatClient, config: Any) -> None:
        self.client = client
        self.sender_id = f"wechat:{client.app_id}"
        self.templates = {
            key.removeprefix("WECHAT_TEMPLATE_").lower(): value
            for key, value in dict(config).items()
            if key.startswith("WECHAT_TEMPLATE_") and value
        }

    def template_for(self, alert_type: str | None) -> str | None:
        return self.templates.get(alert_type) if alert_type else None

    def send(
        self, to: str, body: str, *, outbox_id: int, alert_type: str | None = None
    ) -> SendResult:
        template_id = self.template_for(alert_type)
        if template_id:
            msgid = self.client.send_template(
                to, template_id, template_data(body), client_msg_id=f"outbox-{outbox_id}"
            )
            # WeChat's msgid is ours to record (its TEMPLATESENDJOBFINISH event names it).
            return SendResult(provider_id=f"wx:{msgid}" if msgid else None, status="sent")
        self.client.send_text(to, body)
        return SendResult(provider_id=None, status="sent")


def wechat_client(app: Flask) -> WechatClient:
    """One client per app (its memo and connection pools are per process)."""
    client = app.extensions.get("laoyou.wechat_client")
    if client is None:
        client = WechatClient.from_config(app.config)
        app.extensions["laoyou.wechat_client"] = client
    return client


def wechat_configured(app: Flask) -> bool:
    """Whether API calls can be made at all (an app id and secret)."""
    return bool(app.config["WECHAT_APP_ID"] and app.config["WECHAT_APP_SECRET"])


def wechat_sender_for(app: Flask) -> WechatSender:
    """The provider ``WECHAT_PROVIDER`` names, one per app."""
    sender = app.extensions.get("laoyou.wechat_sender")
    if sender is None:
        if app.config["WECHAT_PROVIDER"] == "api":
            sender = WechatApiSender(wechat_client(app), app.config)
        else:
            sender = WechatConsoleSender()
        app.extensions["laoyou.wechat_sender"] = sender
    return sender
