"""The audit log: who changed what, when, with the state before and after.

Other packages call ``app.audit.services.record`` from their services, or the receivers
wired here record the domain signals (a member joined or changed, a card changed state).
The actor is whoever the boundary said is acting (``set_actor``): a staff member in the
panel, an API key, or the CLI with the operating system's user.
"""

from __future__ import annotations

from flask import Flask, g


def init_app(app: Flask) -> None:
    from app.audit.services import connect_signals

    connect_signals()

    @app.teardown_request
    def _forget_actor(exc: BaseException | None) -> None:
        # The actor is the request's; a test's requests share one app context (and g).
        g.pop("audit_actor", None)
