"""``/`` says what runs and links on; ``/docs/api`` is the API reference from the package."""

from __future__ import annotations

import re
import tomllib
from fnmatch import fnmatch
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest

from app.paths import ROOT


def test_front_page_says_what_runs_and_links_on(client: Any) -> None:
    response = client.get("/")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "<title>Laoyou " in page
    assert f"version {version('laoyou')}" in page
    assert 'href="/sms/simulator"' in page
    assert 'href="/docs/api"' in page
    assert 'href="/api/v1/openapi.json"' in page


@pytest.mark.parametrize("config", [{"SMS_PROVIDER": "twilio"}, {"LAOYOU_ENV": "production"}])
def test_front_page_links_the_simulator_only_where_it_runs(app: Any, config: Any) -> None:
    app.config.update(config)
    page = app.test_client().get("/").get_data(as_text=True)
    assert "/sms/simulator" not in page
    assert 'href="/docs/api"' in page


def test_api_reference_renders_the_whole_document_with_nothing_from_elsewhere(client: Any) -> None:
    spec = client.get("/api/v1/openapi.json").json
    response = client.get("/docs/api")
    assert response.status_code == 200
    assert response.content_type.startswith("text/html")
    page = response.get_data(as_text=True)
    for path, item in spec["paths"].items():
        for method in item:
            if method in ("get", "post", "patch", "put", "delete"):
                assert f'{method.upper()}</span> <span class="path">{path}</span>' in page
    for name in spec["components"]["schemas"]:
        assert f'id="schema-{name}"' in page
    assert "<code>coupons</code>" in page  # the checkout's coupons, with their rules
    assert "<script" not in page and "<link" not in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)


def test_every_template_is_installed_with_the_package() -> None:
    """An installed package finds templates under share/laoyou/templates (``app.paths``)."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = [p for ps in pyproject["tool"]["setuptools"]["data-files"].values() for p in ps]
    templates = [p.relative_to(ROOT).as_posix() for p in (ROOT / "templates").rglob("*.html")]
    assert {"templates/index.html", "templates/api_reference.html"} <= set(templates)
    for template in templates:
        assert any(
            fnmatch(template, p) and Path(p).parent == Path(template).parent for p in patterns
        ), template


def test_api_reference_shows_the_docstrings_code_as_code(client: Any) -> None:
    page = client.get("/docs/api").get_data(as_text=True)
    assert "``" not in page
    assert "<code>q</code> narrows by phone or name" in page
