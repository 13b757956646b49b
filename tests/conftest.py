"""Fixtures shared by the whole suite.

Every test that asks for ``app`` runs twice: on SQLite and on PostgreSQL
(``TEST_POSTGRES_URL``, default the local server's ``test`` database). Each
pytest process gets its own SQLite file and its own PostgreSQL schema, so
parallel workers and parallel developers never meet. A test runs inside an
outer transaction that is rolled back; the code under test commits to
savepoints. Tests marked ``concurrent`` use ``live_app`` instead: real
commits on several connections, tables emptied afterwards.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from app import create_app
from app.db import Base, db, make_engine
from app.models import import_all

PG_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
BACKENDS = ["sqlite", "postgresql"]

import_all()
import scheduler.models  # noqa: E402,F401  (the scheduler's table; create_app wires it too)


def pytest_configure(config: pytest.Config) -> None:
    """Replies are asserted in every language, so the .mo catalogs must be current."""
    from app.catalogs import compile_catalogs

    compile_catalogs()


#: Pages in a real browser are tested against PostgreSQL, the production database: what
#: they show is the views' and templates', which the test client's tests (tests/admin,
#: tests/api …) run on both databases. Twice over, they were a fifth of the suite's time.
BROWSER_TESTS = Path(__file__).resolve().parent / "browser"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``postgresql_only`` tests, and the browser's, are not generated for SQLite at all
    (deselected, not skipped).

    They test what only PostgreSQL has (deferred constraint triggers, SKIP LOCKED);
    a skip would hide a PostgreSQL that is missing, which CI must never do.
    """
    keep, drop = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_sqlite = callspec is not None and callspec.params.get("backend") == "sqlite"
        only_pg = item.get_closest_marker("postgresql_only") or item.path.is_relative_to(
            BROWSER_TESTS
        )
        (drop if on_sqlite and only_pg else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def _pg_conninfo(url: str) -> str:
    u = make_url(url)
    return (
        f"host={u.host or '127.0.0.1'} port={u.port or 5432} dbname={u.database} "
        f"user={u.username or 'postgres'}" + (f" password={u.password}" if u.password else "")
    )


def _postgres_reason() -> str | None:
    try:
        with psycopg.connect(_pg_conninfo(PG_URL), connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return f"PostgreSQL at {PG_URL} unreachable: {exc}"


@pytest.fixture(scope="session", params=BACKENDS)
def backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """One database per backend per pytest process, schema made from the models."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("db") / "laoyou.sqlite3"
        url = f"sqlite:///{path}"
        engine = make_engine(url)
        Base.metadata.create_all(engine)
        yield {"name": "sqlite", "url": url, "engine": engine}
        engine.dispose()
        return
    reason = _postgres_reason()
    if reason:
        if IN_CI:
            pytest.fail(reason + " (CI=true: PostgreSQL tests may not be skipped)")
        pytest.skip(reason)
    schema = (
        f"t_{os.getpid()}_{re.sub(r'[^a-z0-9]', '', os.environ.get('PYTEST_XDIST_WORKER', 'main'))}"
    )
    with psycopg.connect(_pg_conninfo(PG_URL), autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        conn.execute(f"CREATE SCHEMA {schema}")
    url = (
        make_url(PG_URL)
        .update_query_dict({"options": f"-csearch_path={schema}"})
        .render_as_string(hide_password=False)
    )
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    yield {"name": "postgresql", "url": url, "engine": engine, "schema": schema}
    engine.dispose()
    with psycopg.connect(_pg_conninfo(PG_URL), autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def settings_for(backend: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "LAOYOU_ENV": "testing",
        "SECRET_KEY": "test-secret-key-that-is-long-enough-000",
        "DATABASE_URL": backend["url"],
        "DATABASE_ENGINE": backend["engine"],
        "ARGON2_TIME_COST": 1,
        "ARGON2_MEMORY_KIB": 8,
        **extra,
    }


@pytest.fixture
def app_config() -> dict[str, Any]:
    """Override in a test module to add settings: ``return {"PIN_MAX_ATTEMPTS": 3}``."""
    return {}


@pytest.fixture
def app(backend: dict[str, Any], app_config: dict[str, Any]) -> Iterator[Flask]:
    """An app whose every session joins one outer transaction, rolled back after the test."""
    application = create_app(settings_for(backend, **app_config))
    with application.app_context():
        connection = backend["engine"].connect()
        outer = connection.begin()
        db.bind_to(application, connection)
        try:
            yield application
        finally:
            db.session.remove()
            db.bind_to(application, None)
            outer.rollback()
            connection.close()


@pytest.fixture
def live_app(backend: dict[str, Any], app_config: dict[str, Any]) -> Iterator[Flask]:
    """Real commits, for concurrency and multi-process tests; every table is emptied after."""
    application = create_app(settings_for(backend, **app_config))
    with application.app_context():
        try:
            yield application
        finally:
            db.session.remove()
            _empty_tables(backend["engine"])


def _empty_tables(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT 1"))


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask):  # type: ignore[no-untyped-def]
    return app.test_cli_runner()


# --- factories: each returns a callable that makes one thing -----------------------


@pytest.fixture
def make_store(app: Flask) -> Callable[..., Any]:
    from app.stores.services import create_store, get_store

    def make(code: str = "SH01", name: str | None = None, region: str = "East") -> Any:
        from app.errors import NotFound

        try:
            return get_store(code)
        except NotFound:
            return create_store(code, name or f"Store {code}", region)

    return make


@pytest.fixture
def make_level(app: Flask) -> Callable[..., Any]:
    from app.members.models import Level

    def make(
        name: str = "Silver",
        rank: int = 1,
        discount_bp: int = 10000,
        points_multiplier_bp: int = 10000,
        upgrade_threshold: int = 0,
    ) -> Level:
        level = Level(
            name=name,
            rank=rank,
            discount_bp=discount_bp,
            points_multiplier_bp=points_multiplier_bp,
            upgrade_threshold=upgrade_threshold,
        )
        db.session.add(level)
        db.session.flush()
        return level

    return make


@pytest.fixture
def make_member(app: Flask, make_store: Callable[..., Any]) -> Callable[..., Any]:
    from app.cards.services import enroll

    counter = iter(range(1000, 10000))

    def make(phone: str | None = None, *, card_type: str = "stored_value", **fields: Any) -> Any:
        store = fields.pop("home_store", None) or make_store().code
        phone = phone or f"+86139{next(counter):04d}{next(counter) % 10000:04d}"
        member = enroll({"phone": phone, "home_store": store, **fields}, card_type=card_type)
        db.session.flush()
        return member

    return make


@pytest.fixture
def make_card(app: Flask, make_store: Callable[..., Any]) -> Callable[..., Any]:
    from app.cards.services import issue_card

    def make(card_type: str = "stored_value", *, member: Any = None, **options: Any) -> Any:
        options.setdefault("store", make_store())
        return issue_card(card_type, member=member, **options)

    return make


@pytest.fixture
def make_api_key(app: Flask, make_store: Callable[..., Any]) -> Callable[..., str]:
    from app.auth.services import create_api_key

    def make(store_code: str = "SH01") -> str:
        _key, secret = create_api_key(make_store(store_code))
        db.session.flush()
        return secret

    return make


class ApiClient:
    """The test client with a store's bearer key on every request."""

    def __init__(self, client: FlaskClient, key: str) -> None:
        self.client = client
        self.key = key

    def _headers(self, headers: dict[str, str] | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}", **(headers or {})}

    def get(self, path: str, **kw: Any) -> Any:
        return self.client.get(path, headers=self._headers(kw.pop("headers", None)), **kw)

    def post(self, path: str, json: Any = None, **kw: Any) -> Any:
        return self.client.post(
            path, json=json, headers=self._headers(kw.pop("headers", None)), **kw
        )

    def patch(self, path: str, json: Any = None, **kw: Any) -> Any:
        return self.client.patch(
            path, json=json, headers=self._headers(kw.pop("headers", None)), **kw
        )


@pytest.fixture
def api(client: FlaskClient, make_api_key: Callable[..., str]) -> ApiClient:
    """``api.post("/api/v1/members", json={...})`` as store SH01."""
    return ApiClient(client, make_api_key("SH01"))
