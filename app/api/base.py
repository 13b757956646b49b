"""The flask-smorest ``Api`` and ``Blueprint`` every /api/v1 module builds on.

The OpenAPI document is generated from these: request schemas come from
``@blp.arguments``, success bodies from ``@blp.response`` and error bodies from
``@blp.errors(...)``, which documents each status with the one error shape.
"""

from __future__ import annotations

import http
from collections.abc import Callable
from typing import Any

import flask_smorest
from marshmallow import RAISE
from webargs.flaskparser import FlaskParser

from app.api.document_rules import RULES
from app.api.schemas import MAXIMUM_SETTING, ErrorSchema

#: Documented on every operation: a key is always required.
ALWAYS = (401,)


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


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = _Parser()

    def errors(self, *statuses: int) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Document error responses (plus 401) with the shared error schema.

        ``@blp.errors(404, 409)``: each status refers to the response component
        named after it (``NOT_FOUND``, ``CONFLICT``), whose body is ``ErrorSchema``.
        """

        def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
            for status in sorted(set(statuses) | set(ALWAYS), reverse=True):
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

        self.ma_plugin.converter.add_attribute_function(configured_maximum)

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
