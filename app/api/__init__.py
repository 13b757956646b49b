"""The REST API under /api/v1 for the store station and POS systems.

Every module listed in ``BLUEPRINT_MODULES`` exposes ``blp``, an
``app.api.base.Blueprint``; it is served with bearer-key authentication and
documented in the OpenAPI document at /api/v1/openapi.json.
"""

from __future__ import annotations

from importlib import import_module

from flask import Flask, current_app

from app.api import auth, errors
from app.api.base import Api, Blueprint

__all__ = ["BLUEPRINT_MODULES", "Blueprint", "current_api", "init_app", "register_blueprint"]

#: Modules whose ``blp`` is served under /api/v1. Add one line per API package.
BLUEPRINT_MODULES = (
    "app.api.members",
    "app.api.cards",
    "app.api.ledger",
    "app.api.redemption",
    "app.api.programme",
    "app.api.wechat",
    "app.api.station",
    "app.api.activities",
)

SECURITY_SCHEME = {
    "type": "http",
    "scheme": "bearer",
    "description": "A store's API key: `laoyou apikey create --store CODE`.",
}


def init_app(app: Flask) -> None:
    app.config.setdefault("API_TITLE", "Laoyou")
    app.config.setdefault("API_VERSION", "v1")
    app.config.setdefault("OPENAPI_VERSION", "3.0.3")
    # Only the JSON document is served: the UIs would load scripts from a CDN.
    app.config.setdefault("OPENAPI_URL_PREFIX", "/api/v1")
    app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    app.config.setdefault(
        "API_SPEC_OPTIONS",
        {
            "info": {"description": "Members and cards for store stations and POS systems."},
            "security": [{"bearerAuth": []}],
        },
    )
    api = Api(app)
    api.spec.components.security_scheme("bearerAuth", SECURITY_SCHEME)
    app.extensions["laoyou.api"] = api
    app.extensions["laoyou.api.blueprints"] = set()
    # flask-smorest adds its own group; the API document is served at /api/v1/openapi.json.
    app.cli.commands.pop("openapi", None)
    errors.install(app)
    auth.install(app)
    for module in BLUEPRINT_MODULES:
        register_blueprint(import_module(module).blp, app)


def register_blueprint(blp: Blueprint, app: Flask | None = None) -> None:
    """Serve ``blp`` on the app's Api: documented, and every request needs an API key."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    app.extensions["laoyou.api"].register_blueprint(blp)
    app.extensions["laoyou.api.blueprints"].add(blp.name)


def current_api(app: Flask | None = None) -> Api:
    return (app or current_app).extensions["laoyou.api"]
