"""A local stand-in for the WeChat official account API: a real HTTP server on 127.0.0.1.

The tests and the demo point ``WECHAT_API_BASE_URL`` at it (``laoyou wechat fake-api``).
It serves what Laoyou calls, answering as WeChat does (HTTP 200, JSON, ``errcode``):

- ``GET /cgi-bin/token``: checks the app id and secret, issues a new access token
  (the earlier ones stay valid, as WeChat keeps the old one for a few minutes);
- ``POST /cgi-bin/menu/create``, ``/cgi-bin/qrcode/create``,
  ``/cgi-bin/message/template/send``, ``/cgi-bin/message/custom/send``: check the token
  (41001 missing, 40001 unknown, 42001 expired) and the body (44002 empty, 47001 not
  JSON), then record it.

Every request is kept in ``requests`` (path, query, raw body bytes, parsed JSON, answer);
accepted calls are in ``received``. ``script(...)`` sets the next answers of the non-token
calls, in order: an errcode (``"43004"``, ``"-1"``, ``"40001"`` …), ``"500"`` (an HTTP
500), ``"hang"`` (no answer until ``stop``: the client times out), ``"garbage"`` (not
JSON) or ``"ok"``. ``expire_tokens()`` makes every issued token expired (42001);
``token_delay`` slows the token endpoint down so concurrent refreshes overlap.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlparse

ERRMSG = {
    -1: "system error",
    40002: "invalid grant_type",
    40001: "invalid credential, access_token is invalid or not latest",
    40003: "invalid openid",
    40013: "invalid appid",
    40014: "invalid access_token",
    40037: "invalid template_id",
    40125: "invalid appsecret",
    41001: "access_token missing",
    42001: "access_token expired",
    43004: "require subscribe",
    43101: "user refuse to accept the msg",
    44002: "empty post data",
    45009: "reach max api daily quota limit",
    45015: "response out of time limit or subscription is canceled",
    47001: "data format error",
}
CALLS = (
    "/cgi-bin/menu/create",
    "/cgi-bin/qrcode/create",
    "/cgi-bin/message/template/send",
    "/cgi-bin/message/custom/send",
)
#: What a request body may weigh; WeChat's own limits are far below.
MAX_BODY = 1 << 20


class FakeWechatApi:
    def __init__(
        self, app_id: str, app_secret: str, *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.app_id = app_id
        self.app_secret = app_secret
        #: What ``/cgi-bin/token`` answers as ``expires_in``.
        self.expires_in = 7200
        #: Seconds the token endpoint waits before answering.
        self.token_delay = 0.0
        #: Every request, answered or not.
        self.requests: list[dict[str, Any]] = []
        #: Accepted calls: {"path", "body" (the JSON), "raw" (bytes)}.
        self.received: list[dict[str, Any]] = []
        self.tokens_issued: list[str] = []
        self._valid_tokens: set[str] = set()
        self._expired_tokens: set[str] = set()
        self._script: deque[str] = deque()
        self._sent_client_ids: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()
        self.release = threading.Event()
        self.server = ThreadingHTTPServer((host, port), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        #: Called with each accepted call (``laoyou wechat fake-api`` prints it).
        self.on_receive: Any = None

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeWechatApi:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    # --- what tests tell it -------------------------------------------------------------

    def script(self, *answers: str) -> None:
        """The next answers of the non-token calls, in order; then "ok" again."""
        with self._lock:
            self._script.extend(answers)

    def expire_tokens(self) -> None:
        """Every token issued so far answers 42001 from now on."""
        with self._lock:
            self._expired_tokens |= self._valid_tokens
            self._valid_tokens.clear()

    def revoke_tokens(self) -> None:
        """Every token issued so far is unknown (40001), as after a refresh elsewhere."""
        with self._lock:
            self._valid_tokens.clear()

    def token_requests(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["path"] == "/cgi-bin/token"]

    def calls(self, path: str) -> list[dict[str, Any]]:
        """Accepted calls to ``path`` (the parsed JSON bodies)."""
        return [r["body"] for r in self.received if r["path"] == path]

    # --- serving ------------------------------------------------------------------------

    def _next(self) -> str:
        with self._lock:
            return self._script.popleft() if self._script else "ok"

    def _issue(self) -> str:
        token = secrets.token_urlsafe(48)
        with self._lock:
            self._valid_tokens.add(token)
            self.tokens_issued.append(token)
        return token

    def _token_error(self, token: str | None) -> int:
        with self._lock:
            if not token:
                return 41001
            if token in self._expired_tokens:
                return 42001
            return 0 if token in self._valid_tokens else 40001

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _json(self, payload: dict[str, Any], status: int = 200) -> None:
                body = json.dumps(payload, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _error(self, code: int) -> None:
                self._json({"errcode": code, "errmsg": ERRMSG.get(code, "error")})

            def do_GET(self) -> None:
                url = urlparse(self.path)
                query = dict(parse_qsl(url.query))
                record = {"path": url.path, "query": query, "raw": b"", "body": None}
                fake.requests.append(record)
                if url.path != "/cgi-bin/token":
                    self._json({"errcode": 404, "errmsg": "not found"}, 404)
                    return
                if fake.token_delay:
                    time.sleep(fake.token_delay)
                if query.get("grant_type") != "client_credential":
                    self._error(40002)
                elif query.get("appid") != fake.app_id:
                    self._error(40013)
                elif query.get("secret") != fake.app_secret:
                    self._error(40125)
                else:
                    self._json({"access_token": fake._issue(), "expires_in": fake.expires_in})

            def do_POST(self) -> None:
                url = urlparse(self.path)
                query = dict(parse_qsl(url.query))
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(min(length, MAX_BODY))
                record: dict[str, Any] = {"path": url.path, "query": query, "raw": raw}
                fake.requests.append(record)
                if url.path not in CALLS:
                    self._json({"errcode": 404, "errmsg": "not found"}, 404)
                    return
                token_error = fake._token_error(query.get("access_token"))
                if token_error:
                    record["answer"] = str(token_error)
                    self._error(token_error)
                    return
                answer = fake._next()
                record["answer"] = answer
                if answer == "hang":
                    fake.release.wait(30)
                    self.close_connection = True
                    return
                if answer == "500":
                    self._json({"errcode": -1, "errmsg": "internal"}, 500)
                    return
                if answer == "garbage":
                    body = b"<html>502 Bad Gateway</html>"
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                if answer != "ok":
                    self._error(int(answer))
                    return
                if not raw:
                    self._error(44002)
                    return
                try:
                    body = json.loads(raw.decode("utf-8"))
                except ValueError:
                    self._error(47001)
                    return
                record["body"] = body
                self._accept(url.path, body, raw)

            def _accept(self, path: str, body: Any, raw: bytes) -> None:
                if not isinstance(body, dict):
                    self._error(47001)
                    return
                if path == "/cgi-bin/message/template/send":
                    key = (str(body.get("touser")), str(body.get("client_msg_id") or ""))
                    with fake._lock:
                        seen = fake._sent_client_ids.get(key) if key[1] else None
                    if seen is not None:
                        # WeChat's client_msg_id: the same message once, however often sent.
                        self._json({"errcode": 0, "errmsg": "ok", "msgid": seen})
                        return
                    msgid = secrets.randbelow(10**15) + 10**15
                    with fake._lock:
                        if key[1]:
                            fake._sent_client_ids[key] = msgid
                    fake._record(path, body, raw)
                    self._json({"errcode": 0, "errmsg": "ok", "msgid": msgid})
                    return
                if path == "/cgi-bin/qrcode/create":
                    ticket = "gQ" + secrets.token_urlsafe(36)
                    fake._record(path, body, raw)
                    answer: dict[str, Any] = {
                        "ticket": ticket,
                        "url": f"http://weixin.qq.com/q/{ticket[:22]}",
                    }
                    if body.get("action_name") in ("QR_SCENE", "QR_STR_SCENE"):
                        answer["expire_seconds"] = int(body.get("expire_seconds") or 30)
                    self._json(answer)
                    return
                fake._record(path, body, raw)
                self._json({"errcode": 0, "errmsg": "ok"})

        return Handler

    def _record(self, path: str, body: Any, raw: bytes) -> None:
        entry = {"path": path, "body": body, "raw": raw}
        with self._lock:
            self.received.append(entry)
        if self.on_receive is not None:
            self.on_receive(entry)
