"""HTTP-level failures under /api/ (bad JSON, failed validation, 404, 405, 415) as JSON.

Domain errors already become JSON in ``app.web.boundary``; this covers what Flask,
webargs and flask-smorest raise themselves, in the same shape.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from app.web.boundary import error_body

API_PATH = "/api/"

#: ``error.code`` for each HTTP status we may answer with; a contract like the domain codes.
HTTP_ERROR_CODES = {
    400: "invalid_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "rate_limited",
}


def is_api_request() -> bool:
    return request.path.startswith(API_PATH)


def install(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> HTTPException | tuple[Response, int]:
        if not is_api_request():
            return exc
        return http_error_response(exc)


def http_error_response(exc: HTTPException) -> tuple[Response, int]:
    status = exc.code or 500
    code = HTTP_ERROR_CODES.get(status, "internal_error" if status >= 500 else "error")
    data = getattr(exc, "data", None) or {}
    messages = data.get("messages")
    if status in (400, 422) and messages is not None:
        return _validation_error(messages)
    if status >= 500:
        message = "internal error; the request changed nothing"
    else:
        message = exc.description or exc.name
    response = jsonify(error_body(code, message))
    if status == 405 and exc.valid_methods:  # type: ignore[attr-defined]
        response.headers["Allow"] = ", ".join(exc.valid_methods)  # type: ignore[attr-defined]
    return response, 400 if status == 422 else status


def _validation_error(messages: Any) -> tuple[Response, int]:
    """webargs' ``{"json": {"phone": ["Missing data..."]}}`` as an ``invalid_request``."""
    if isinstance(messages, dict) and len(messages) == 1:
        messages = next(iter(messages.values()))
    if isinstance(messages, list):
        message = " ".join(str(m) for m in messages)
        if message == "Invalid JSON body.":
            message = "the request body is not valid JSON"
        return jsonify(error_body("invalid_request", message)), 400
    flat = list(_flatten(messages))
    field = flat[0][0] if flat else None
    message = "; ".join(f"{path}: {text.rstrip('.')}" for path, text in flat) or "invalid request"
    if field == "_schema":
        field = None
        message = message.replace("_schema: ", "the request body: ", 1)
    details: dict[str, Any] = {"fields": messages}
    if field:
        details["field"] = field
    return jsonify(error_body("invalid_request", message, **details)), 400


def _flatten(messages: Any, prefix: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(messages, dict):
        for key, value in messages.items():
            yield from _flatten(value, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(messages, list):
        for item in messages:
            if isinstance(item, (dict, list)):
                yield from _flatten(item, prefix)
            else:
                yield prefix, str(item)
    else:
        yield prefix, str(messages)
