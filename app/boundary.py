"""The HTTP unit of work: one commit per request, rollback on any failure.

Views and services never commit; this is the only place a request's work is
made durable. Domain errors become the API's JSON error shape.
"""

from __future__ import annotations

from flask import Flask, Response, jsonify

from app.db import db, finish_failed
from app.errors import LaoyouError


def error_body(code: str, message: str, **details: object) -> dict[str, object]:
    error: dict[str, object] = {"code": code, "message": message}
    if details:
        error["details"] = details
    return {"error": error}


def install(app: Flask) -> None:
    @app.after_request
    def _commit(response: Response) -> Response:
        # A persisting error (a PIN failure) was already committed by its handler,
        # so the rollback of a failed request finds nothing left to undo there.
        if not db.session.registry.has():
            return response  # no session, nothing to commit (a read-only SMS answer)
        session = db.session()
        if response.status_code < 400:
            session.commit()
        else:
            session.rollback()
        return response

    @app.errorhandler(LaoyouError)
    def _domain_error(exc: LaoyouError) -> tuple[Response, int]:
        finish_failed(db.session(), exc)
        return jsonify(error_body(exc.code, exc.message, **exc.details)), exc.status
