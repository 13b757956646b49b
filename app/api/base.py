"""The flask-smorest ``Api`` and ``Blueprint`` every /api/v1 module builds on.

The OpenAPI document is generated from these: request schemas come from
``@blp.arguments``, success bodies from ``@blp.response`` and error bodies from
``@blp.errors(...)``, which documents each status with the one error shape.
"""

from __future__ import annotations

import http
from collections.abc import Callable
from typing import Any

import flask
import flask_smorest
from marshmallow import RAISE
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request
from werkzeug.routing import UnicodeConverter

from app.api.document_rules import RULES
from app.api.schemas import MAXIMUM_SETTING, NO_NUL_PATTERN, ErrorSchema

#: Documented on every operation: a key is always required, and any path segment,
#: query string or header may carry what the boundary refuses (a NUL character).
ALWAYS = (400, 401)
#: An operation that takes a body (it documents 415) also answers 413 ``payload_too_large``.
WITH_BODY = {415: 413}


class _Parser(FlaskParser):
    """webargs answers 422 by default; our contract says bad input is 400 ``invalid_request``.

    An unknown query parameter is refused like an unknown JSON field (``?per_pag=5`` is a
    typo the caller should hear about), so the document's parameter lists are exact.
    """

    DEFAULT_VALIDATION_STATUS = 400
    DEFAULT_UNKNOWN_BY_LOCATION = {
        **FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION,
        "query": RAISE,
        "querystring": RAISE,
    }

    def _raw_load_json(self, req: flask.Request) -> Any:
        # The boundary (``app.web.boundary``) parsed and checked the body already (depth, NUL,
        # syntax) and Flask cached it: the body is parsed once, by one parser.
        if not is_json_request(req) or not req.get_data(cache=True):
            return core.missing
        return req.get_json()


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = _Parser()

    def errors(self, *statuses: int) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Document error responses (plus 400 and 401; 413 with 415) with the shared error schema.

        ``@blp.errors(404, 409)``: each status refers to the response component
        named after it (``NOT_FOUND``, ``CONFLICT``), whose body is ``ErrorSchema``.
        """

        def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
            body = {WITH_BODY[s] for s in statuses if s in WITH_BODY}
            for status in sorted(set(statuses) | set(ALWAYS) | body, reverse=True):
                func = self.alt_response(status, response=http.HTTPStatus(status).name)(func)
            return func

        return decorator


class Api(flask_smorest.Api):
    """One error body for everything: ``{"error": {"code", "message", "details"}}``."""

    ERROR_SCHEMA = ErrorSchema
    #: No catch-all "default" response: each operation lists the statuses it can answer,
    #: so a response with an undocumented status fails the OpenAPI test.
    DEFAULT_ERROR_RESPONSE_NAME = None

    def init_app(self, app: Any, *, spec_kwargs: Any = None) -> None:
        super().init_app(app, spec_kwargs=spec_kwargs)
        config = app.config

        def configured_maximum(converter: Any, field: Any, **_: Any) -> dict[str, Any]:
            """A limit that is a setting (``MAXIMUM_SETTING``) is documented with its value."""
            setting = field.metadata.get(MAXIMUM_SETTING)
            return {"maximum": config[setting]} if setting else {}

        def no_nul(converter: Any, field: Any, ret: dict[str, Any], **_: Any) -> dict[str, Any]:
            """Every text refuses NUL (``app.web.boundary``): a string with no pattern of its own
            and no enumeration says so, so generated requests the document allows pass."""
            if ret.get("type") == "string" and not {"pattern", "enum", "format"} & set(ret):
                return {"pattern": NO_NUL_PATTERN}
            return {}

        self.ma_plugin.converter.add_attribute_function(configured_maximum)
        self.ma_plugin.converter.add_attribute_function(no_nul)
        # Path segments are text too: ``/members/a%00b`` is refused like a body field.
        self.register_converter(
            UnicodeConverter, lambda _converter: {"type": "string", "pattern": NO_NUL_PATTERN}
        )

    def register_blueprint(self, blp: Any, **options: Any) -> None:
        super().register_blueprint(blp, **options)
        components = self.spec.components.schemas
        for name, keywords in RULES.items():
            if name in components:
                components[name].update(keywords)

    def _register_error_handlers(self) -> None:
        # HTTP errors are turned into JSON by app.api.errors, only under /api/,
        # so the admin panel and station pages keep Flask's own error pages.
        pass
