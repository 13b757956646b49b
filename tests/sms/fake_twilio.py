"""A local stand-in for Twilio's Messages API: a real HTTP server on 127.0.0.1.

It speaks the part of the API the real ``twilio`` client uses to send: basic auth
with the account SID and auth token, a form POST to
``/2010-04-01/Accounts/{sid}/Messages.json``, a 201 JSON answer with a ``sid``.
Tell it what to answer next with ``script(...)``: ``"ok"``, ``"429"``, ``"500"``,
``"400:21211"`` (a permanent error code), or ``"hang"`` (no answer until released:
the client times out). Accepted messages are recorded in ``messages``; every
request (accepted or not) in ``requests``.
"""

from __future__ import annotations

import base64
import json
import threading
import uuid
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlparse

ERRORS = {
    21211: "The 'To' number {to} is not a valid phone number.",
    21610: "Attempt to send to unsubscribed recipient",
    21408: "Permission to send an SMS has not been enabled for the region",
}


class FakeTwilio:
    def __init__(self, account_sid: str, auth_token: str) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.messages: list[dict[str, str]] = []
        self.requests: list[dict[str, Any]] = []
        self._script: deque[str] = deque()
        self._lock = threading.Lock()
        self.release = threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeTwilio:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def script(self, *answers: str) -> None:
        """The next answers, in order; "ok" once the script runs out."""
        with self._lock:
            self._script.extend(answers)

    def bodies(self) -> list[str]:
        return [m["Body"] for m in self.messages]

    def _next(self) -> str:
        with self._lock:
            return self._script.popleft() if self._script else "ok"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _json(self, status: int, payload: dict[str, Any]) -> None:
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = dict(parse_qsl(self.rfile.read(length).decode(), keep_blank_values=True))
                path = urlparse(self.path).path
                expected = (
                    "Basic "
                    + base64.b64encode(f"{fake.account_sid}:{fake.auth_token}".encode()).decode()
                )
                if self.headers.get("Authorization") != expected:
                    self._json(401, {"code": 20003, "message": "Authenticate", "status": 401})
                    return
                if path != f"/2010-04-01/Accounts/{fake.account_sid}/Messages.json":
                    self._json(404, {"code": 20404, "message": "Not found", "status": 404})
                    return
                answer = fake._next()
                fake.requests.append({"form": form, "answer": answer})
                if answer == "hang":
                    fake.release.wait(30)
                    return
                if answer in ("429", "500", "503"):
                    status = int(answer)
                    self._json(
                        status,
                        {
                            "code": 20429 if status == 429 else 20500,
                            "message": "Too Many Requests"
                            if status == 429
                            else "Internal Server Error",
                            "status": status,
                        },
                    )
                    return
                if answer.startswith("400:"):
                    code = int(answer[4:])
                    self._json(
                        400,
                        {
                            "code": code,
                            "message": ERRORS.get(code, "Bad request").format(to=form.get("To")),
                            "more_info": f"https://www.twilio.com/docs/errors/{code}",
                            "status": 400,
                        },
                    )
                    return
                sid = "SM" + uuid.uuid4().hex
                fake.messages.append({**form, "Sid": sid})
                self._json(
                    201,
                    {
                        "sid": sid,
                        "account_sid": fake.account_sid,
                        "to": form.get("To"),
                        "from": form.get("From"),
                        "messaging_service_sid": form.get("MessagingServiceSid"),
                        "body": form.get("Body"),
                        "status": "accepted" if form.get("MessagingServiceSid") else "queued",
                        "num_segments": "1",
                        "direction": "outbound-api",
                        "api_version": "2010-04-01",
                        "price": None,
                        "error_code": None,
                        "error_message": None,
                        "uri": f"/2010-04-01/Accounts/{fake.account_sid}/Messages/{sid}.json",
                    },
                )

        return Handler
