"""Cookie sessions only where a browser is.

Flask opens (verifies and deserialises) the signed session cookie on every
request. The machine endpoints — the REST API (bearer keys) and the providers'
webhooks (signed requests) — never read or write it, and the SMS webhook is the
hottest request the service has: there the session is not opened at all, and a
view that tried to write one would fail loudly (Flask's null session). Browser
pages (the SMS simulator's CSRF token, the admin panel) keep the usual cookie.
"""

from __future__ import annotations

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface

#: Paths served to machines, never to a browser with a session.
MACHINE_PATHS = ("/api/", "/sms/twilio")
#: The WeChat webhook, exactly: pages under ``/wechat/`` (the e-card) are a browser's.
MACHINE_EXACT = frozenset({"/wechat"})


class BrowserOnlySessionInterface(SecureCookieSessionInterface):
    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if request.path.startswith(MACHINE_PATHS) or request.path in MACHINE_EXACT:
            return None  # Flask then uses a null session, which refuses writes
        return super().open_session(app, request)


def init_app(app: Flask) -> None:
    app.session_interface = BrowserOnlySessionInterface()
