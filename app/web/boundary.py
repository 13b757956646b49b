"""The HTTP unit of work: one commit per request, rollback on any failure.

Views and services never commit; this is the only place a request's work is
made durable. Domain errors become the API's JSON error shape.

It is also where hostile input is refused, once, before any view reads it: a
NUL character (which PostgreSQL's text cannot hold) in a path segment, a query
string, a header or, under /api/, anywhere in a JSON body; and JSON nested deeper
than ``MAX_JSON_DEPTH`` (Python's parser would recurse until ``RecursionError``),
through Flask's JSON provider so every ``get_json`` is safe.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Flask, Response, jsonify, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import BadRequest

from app.db import db, finish_failed
from app.errors import InvalidRequest, LaoyouError
from app.limits import MAX_JSON_DEPTH

NUL = "\x00"
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class JSONTooDeep(ValueError):
    """A JSON document nests objects and arrays deeper than ``MAX_JSON_DEPTH``."""


def load_json(text: str | bytes, **kwargs: Any) -> Any:
    """``json.loads`` that refuses documents nested deeper than ``MAX_JSON_DEPTH``."""
    try:
        value = json.loads(text, **kwargs)
    except RecursionError:
        raise JSONTooDeep(_too_deep()) from None
    # Only a document with that many brackets can be that deep: most skip the walk.
    if isinstance(text, bytes):
        brackets = text.count(b"[") + text.count(b"{")
    else:
        brackets = text.count("[") + text.count("{")
    if brackets > MAX_JSON_DEPTH and _deeper_than(value, MAX_JSON_DEPTH):
        raise JSONTooDeep(_too_deep())
    return value


def _too_deep() -> str:
    return f"the request body nests deeper than {MAX_JSON_DEPTH} levels"


def _deeper_than(value: Any, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item
        if depth > limit:
            return True
        stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))
    return False


class GuardedJSONProvider(DefaultJSONProvider):
    """Flask's JSON, with ``load_json`` for parsing: ``request.get_json`` never recurses away."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return load_json(s, **kwargs)


def nul_path(value: Any) -> str | None:
    """Where a parsed JSON value holds a NUL in a string, key or value (``items.0.sku``).

    ``""`` is the document itself; None when there is none.
    """
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            if NUL in item:
                return path
        elif isinstance(item, dict):
            for key, sub in reversed(list(item.items())):
                sub_path = f"{path}.{key}" if path else key
                if NUL in key:
                    return _shown(sub_path)
                stack.append((sub_path, sub))
        elif isinstance(item, list):
            for n in range(len(item) - 1, -1, -1):
                stack.append((f"{path}.{n}" if path else str(n), item[n]))
    return None


def _shown(name: str) -> str:
    return name.replace(NUL, "\\u0000")


def _refuse_nul(field: str) -> InvalidRequest:
    text = "a NUL character (\\u0000), which is not allowed in any text"
    if not field:  # the body is nothing but that string
        return InvalidRequest(f"the request body is {text}")
    return InvalidRequest(f"{field} contains {text}", field=field)


def header_text(name: str) -> str:
    """A header's value as the client meant it: UTF-8 when its bytes are UTF-8.

    WSGI hands headers over decoded as latin-1, so a key of 100 CJK characters
    would otherwise count as 300.
    """
    raw = request.headers.get(name, "")
    try:
        return raw.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return raw


def _check_input() -> None:
    """Refuse a NUL anywhere a request's text enters, and a JSON body that cannot be read."""
    for name, value in (request.view_args or {}).items():
        if isinstance(value, str) and NUL in value:
            raise _refuse_nul(name)
    for name, value in request.args.items(multi=True):
        if NUL in name or NUL in value:
            raise _refuse_nul(_shown(name))
    for name, value in request.headers.items():
        if NUL in value:
            raise _refuse_nul(name)
    if (
        request.method in BODY_METHODS
        and request.path.startswith("/api/")
        and request.is_json
        and request.get_data(cache=True)
    ):
        try:
            body = request.get_json()  # cached: every later reader gets this parse
        except BadRequest:
            raise InvalidRequest(_why_not_json(request.get_data(cache=True))) from None
        if b"\\u0000" in request.get_data(cache=True):
            field = nul_path(body)
            if field is not None:
                raise _refuse_nul(field)


def _why_not_json(raw: bytes) -> str:
    try:
        load_json(raw)
    except JSONTooDeep as exc:
        return str(exc)
    except ValueError:
        pass
    return "the request body is not valid JSON"


def error_body(code: str, message: str, **details: object) -> dict[str, object]:
    error: dict[str, object] = {"code": code, "message": message}
    if details:
        error["details"] = details
    return {"error": error}


def install(app: Flask) -> None:
    provider = GuardedJSONProvider(app)
    provider.ensure_ascii = app.json.ensure_ascii  # type: ignore[attr-defined]
    provider.sort_keys = app.json.sort_keys  # type: ignore[attr-defined]
    app.json = provider
    # First of every before_request: nothing reads the request before it is checked.
    app.before_request(_check_input)

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
