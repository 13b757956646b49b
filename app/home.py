"""The front page (``/``: what runs here, and where to go) and the API reference page.

The reference (``/docs/api``) is the OpenAPI document rendered on the server by a Jinja
template (``templates/api_reference.html``): no script, style or font from a CDN, so it
works offline and from an installed package, which finds the template through
``app.paths``.
"""

from __future__ import annotations

import re
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from flask import Blueprint, Flask, current_app, render_template
from markupsafe import Markup, escape

bp = Blueprint("home", __name__)

HTTP_METHODS = ("get", "post", "put", "patch", "delete")


def laoyou_version() -> str:
    try:
        return version("laoyou")
    except PackageNotFoundError:  # a checkout run without installing
        return "unknown"


def simulator_available() -> bool:
    """The simulator's own rule (``app.sms.simulator``): console provider, not production."""
    config = current_app.config
    return config["SMS_PROVIDER"] == "console" and config["LAOYOU_ENV"] != "production"


@bp.get("/")
def index() -> str:
    return render_template("index.html", version=laoyou_version(), simulator=simulator_available())


@bp.get("/docs/api")
def api_reference() -> str:
    from app.api import current_api

    spec = current_api().spec.to_dict()
    return render_template(
        "api_reference.html",
        version=laoyou_version(),
        spec=spec,
        operations=_operations(spec),
        ref_name=_ref_name,
        rules_of=_rules_of,
    )


def _ref_name(value: Any) -> str | None:
    """``Checkout`` for ``{"$ref": "#/components/schemas/Checkout"}``, else None."""
    if isinstance(value, dict) and isinstance(value.get("$ref"), str):
        return str(value["$ref"]).rsplit("/", 1)[-1]
    return None


def _rules_of(schema: dict[str, Any]) -> str:
    """A field's constraints in words: "≥ 1; at most 32 characters"."""
    parts = []
    if schema.get("enum"):
        parts.append("one of " + ", ".join(str(v) for v in schema["enum"]))
    if "minLength" in schema and "maxLength" in schema:
        parts.append(f"{schema['minLength']} to {schema['maxLength']} characters")
    for key, words in (
        ("minimum", "≥ {}"),
        ("maximum", "≤ {}"),
        ("minLength", "at least {} characters"),
        ("maxLength", "at most {} characters"),
        ("maxItems", "at most {} items"),
        ("pattern", "pattern {}"),
    ):
        if key in schema and not (
            key.endswith("Length") and "minLength" in schema and "maxLength" in schema
        ):
            parts.append(words.format(schema[key]))
    if schema.get("default") is not None:
        parts.append(f"default {schema['default']}")
    return "; ".join(parts)


def _operations(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """Every operation, grouped by the order of the document's paths, with its parts resolved."""
    responses = spec.get("components", {}).get("responses", {})
    out = []
    for path, item in spec.get("paths", {}).items():
        shared = item.get("parameters", [])
        for method in HTTP_METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            answers = []
            for status, answer in sorted(operation.get("responses", {}).items()):
                named = _ref_name(answer)
                resolved = responses.get(named, {}) if named else answer
                content = resolved.get("content", {}).get("application/json", {})
                answers.append(
                    {
                        "status": status,
                        "description": resolved.get("description", ""),
                        "schema": _ref_name(content.get("schema")),
                    }
                )
            out.append(
                {
                    "id": f"{method}-{path}".replace("/", "-").replace("{", "").replace("}", ""),
                    "method": method.upper(),
                    "path": path,
                    "tag": (operation.get("tags") or [""])[0],
                    "summary": operation.get("summary", ""),
                    "description": operation.get("description", ""),
                    "parameters": [*shared, *operation.get("parameters", [])],
                    "body": _ref_name(body.get("schema")) if body else None,
                    "responses": answers,
                }
            )
    return out


_LITERAL = re.compile(r"``(.+?)``")


def literals(text: str | None) -> Markup:
    """The docstrings' ``code`` as <code>code</code>; everything else escaped."""
    return Markup(_LITERAL.sub(lambda m: f"<code>{m.group(1)}</code>", str(escape(text or ""))))


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.add_template_filter(literals)
