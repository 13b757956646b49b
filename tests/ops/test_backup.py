"""``laoyou backup`` and ``laoyou restore``: a real database out, a fresh one back in.

Each database here is made for the test (a SQLite file; on PostgreSQL a database of
its own, with the app in a schema other than ``public`` as the suite runs it), migrated
by ``laoyou db upgrade`` and filled by ``laoyou demo`` with real commits: members, cards
and journal lines.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from alembic.script import ScriptDirectory
from click.testing import Result
from flask import Flask
from sqlalchemy import select
from sqlalchemy.engine import make_url

from app import create_app
from app.cards.models import Card
from app.cli.db import alembic_config
from app.db import db
from app.ledger.balances import card_balances
from tests.conftest import PG_URL, _pg_conninfo

#: The newest migration: what a restore upgrades to.
(HEAD,) = ScriptDirectory.from_config(alembic_config()).get_heads()

Cli = Callable[..., Result]


class Databases:
    """Fresh, empty databases of the backend under test, dropped afterwards."""

    def __init__(self, backend: str, tmp_path: Path) -> None:
        self.backend = backend
        self.tmp_path = tmp_path
        self.apps: list[Flask] = []
        self.pg_databases: list[str] = []
        #: The schema the app lives in on PostgreSQL (as the suite's ``backend`` does).
        self.schema = f"ops_{os.getpid()}"

    def new(self, name: str, *, with_schema: bool = False, **settings: Any) -> Flask:
        """A new database; on PostgreSQL its schema is made only ``with_schema`` (a fresh
        database has none: the restore makes it)."""
        if self.backend == "sqlite":
            url = f"sqlite:///{self.tmp_path / name}.sqlite3"
        else:
            database = f"laoyou_ops_{os.getpid()}_{name}"
            with psycopg.connect(_pg_conninfo(PG_URL), autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
                conn.execute(f"CREATE DATABASE {database}")
            self.pg_databases.append(database)
            pg_url = make_url(PG_URL).set(database=database)
            if self.schema != "public":
                pg_url = pg_url.update_query_dict({"options": f"-csearch_path={self.schema}"})
            url = pg_url.render_as_string(hide_password=False)
            if with_schema and self.schema != "public":
                with psycopg.connect(_pg_conninfo(url), autocommit=True) as conn:
                    conn.execute(f"CREATE SCHEMA {self.schema}")
        app = create_app(
            {
                "LAOYOU_ENV": "testing",
                "SECRET_KEY": "test-secret-key-that-is-long-enough-000",
                "DATABASE_URL": url,
                "ARGON2_TIME_COST": 1,
                "ARGON2_MEMORY_KIB": 8,
                **settings,
            }
        )
        self.apps.append(app)
        return app

    def close(self) -> None:
        for app in self.apps:
            app.extensions["laoyou.db"].engine.dispose()
        with psycopg.connect(_pg_conninfo(PG_URL), autocommit=True) as conn:
            for database in self.pg_databases:
                conn.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")


@pytest.fixture
def databases(backend: dict[str, Any], tmp_path: Path) -> Iterator[Databases]:
    made = Databases(backend["name"], tmp_path)
    try:
        yield made
    finally:
        made.close()


def cli(app: Flask) -> Cli:
    def run(*args: str) -> Result:
        return app.test_cli_runner().invoke(args=list(args), catch_exceptions=False)

    return run


def balances(app: Flask) -> dict[str, Any]:
    """Every card's balances by number, read through the ledger's service."""
    with app.app_context():
        try:
            cards = db.session.execute(select(Card.id, Card.number)).all()
            return {number: card_balances(card_id) for card_id, number in cards}
        finally:
            db.session.remove()


@pytest.fixture(scope="module")
def source(backend: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """A migrated database holding the demo chain, made once: the tests only read it
    (a refused restore into it must leave it as it was, which they check)."""
    made = Databases(backend["name"], tmp_path_factory.mktemp("source"))
    try:
        app = made.new("source", with_schema=True)
        run = cli(app)
        assert run("db", "upgrade").exit_code == 0
        assert run("demo").exit_code == 0
        yield app
    finally:
        made.close()


def test_backup_then_restore_into_a_fresh_database(
    source: Flask, databases: Databases, tmp_path: Path
) -> None:
    out = tmp_path / "laoyou.backup"
    before = balances(source)
    assert any(b.stored_value_fen for b in before.values())  # the demo charged some cards

    made = cli(source)("backup", "--out", str(out))

    assert made.exit_code == 0, made.output
    assert f"to {out}" in made.output
    assert out.stat().st_mode & 0o777 == 0o600  # members' data: the owner's only
    fresh = databases.new("restored")
    restored = cli(fresh)("restore", str(out))
    assert restored.exit_code == 0, restored.output
    assert f"schema at {HEAD} (current)" in restored.output
    check = cli(fresh)("ledger", "check")
    assert check.exit_code == 0, check.output
    assert check.output.rstrip().endswith(": ok")
    assert balances(fresh) == before


def test_a_backup_of_an_older_schema_is_migrated_on_restore(
    databases: Databases, tmp_path: Path
) -> None:
    old = databases.new("old", with_schema=True)
    assert cli(old)("db", "upgrade", "0011_members_room").exit_code == 0
    out = tmp_path / "old.backup"
    assert cli(old)("backup", "--out", str(out)).exit_code == 0

    fresh = databases.new("restored")
    restored = cli(fresh)("restore", str(out))

    assert restored.exit_code == 0, restored.output
    assert f"schema migrated from 0011_members_room to {HEAD}" in restored.output
    assert cli(fresh)("db", "current").exit_code == 0


def test_restore_refuses_a_database_with_tables_unless_forced(
    source: Flask, databases: Databases, tmp_path: Path
) -> None:
    out = tmp_path / "laoyou.backup"
    assert cli(source)("backup", "--out", str(out)).exit_code == 0
    target = databases.new("restored", with_schema=True)
    assert cli(target)("db", "upgrade").exit_code == 0  # migrated: tables, no members

    refused = cli(target)("restore", str(out))

    assert refused.exit_code == 1
    assert "already has tables" in refused.output
    assert "--force" in refused.output
    assert balances(target) == {}  # untouched

    forced = cli(target)("restore", str(out), "--force")

    assert forced.exit_code == 0, forced.output
    assert balances(target) == balances(source)
    assert cli(target)("ledger", "check").exit_code == 0


def damaged(tmp_path: Path, good: Path) -> dict[str, Path]:
    """Files a restore must refuse: noise, a cut-off backup, an empty file, a missing one."""
    noise = tmp_path / "noise.backup"
    noise.write_bytes(os.urandom(4096))
    cut = tmp_path / "cut.backup"
    data = good.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    empty = tmp_path / "empty.backup"
    empty.write_bytes(b"")
    return {
        "noise": noise,
        "cut": cut,
        "empty": empty,
        "missing": tmp_path / "no-such.backup",
    }


def test_a_damaged_or_absent_backup_is_refused_and_changes_nothing(
    source: Flask, tmp_path: Path
) -> None:
    good = tmp_path / "good.backup"
    assert cli(source)("backup", "--out", str(good)).exit_code == 0
    before = balances(source)

    for kind, path in damaged(tmp_path, good).items():
        # --force: even a restore allowed to replace everything leaves it all as it was.
        result = cli(source)("restore", str(path), "--force")

        assert result.exit_code == 1, (kind, result.output)
        assert result.output.startswith("Error: "), (kind, result.output)
        assert "Traceback" not in result.output
        assert balances(source) == before, kind
    assert cli(source)("ledger", "check").exit_code == 0


def test_a_backup_of_the_other_database_kind_is_refused(
    backend: dict[str, Any], source: Flask, tmp_path: Path
) -> None:
    other = tmp_path / "other.backup"
    other.write_bytes(
        b"PGDMP\x01\x0f\x00" + os.urandom(64)
        if backend["name"] == "sqlite"
        else b"SQLite format 3\x00" + os.urandom(64)
    )

    result = cli(source)("restore", str(other), "--force")

    assert result.exit_code == 1
    expected = "is a PostgreSQL backup" if backend["name"] == "sqlite" else "is a SQLite backup"
    assert expected in result.output


def test_a_failed_backup_leaves_the_previous_file_alone(
    backend: dict[str, Any], databases: Databases, tmp_path: Path
) -> None:
    out = tmp_path / "laoyou.backup"
    out.write_bytes(b"yesterday's backup")
    if backend["name"] == "sqlite":
        app = databases.new("gone")
        Path(make_url(app.config["DATABASE_URL"]).database or "").unlink(missing_ok=True)
        expected = "there is no database file"
    else:
        # pg_dump is looked for where there is none.
        app = databases.new("nodump", with_schema=True, PG_BIN_DIR=str(tmp_path))
        expected = "pg_dump was not found in PG_BIN_DIR"

    result = cli(app)("backup", "--out", str(out))

    assert result.exit_code == 1
    assert expected in result.output
    assert out.read_bytes() == b"yesterday's backup"
    assert [p.name for p in tmp_path.iterdir() if "partial" in p.name] == []


@pytest.mark.postgresql_only
def test_pg_restore_missing_is_a_clear_error(
    source: Flask, databases: Databases, tmp_path: Path
) -> None:
    out = tmp_path / "laoyou.backup"
    assert cli(source)("backup", "--out", str(out)).exit_code == 0
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()
    target = databases.new("restored", PG_BIN_DIR=str(empty_bin))

    result = cli(target)("restore", str(out))

    assert result.exit_code == 1
    assert "pg_restore was not found in PG_BIN_DIR" in result.output


@pytest.mark.postgresql_only
def test_a_backup_of_one_schema_is_not_restored_into_another(
    source: Flask, databases: Databases, tmp_path: Path
) -> None:
    out = tmp_path / "laoyou.backup"
    assert cli(source)("backup", "--out", str(out)).exit_code == 0
    databases.schema = f"elsewhere_{os.getpid()}"
    target = databases.new("restored")

    result = cli(target)("restore", str(out))

    assert result.exit_code == 1
    assert f"holds schema ops_{os.getpid()}" in result.output


def test_the_console_script_backs_up_and_restores(tmp_path: Path) -> None:
    """The installed ``laoyou`` (Flask's group, not the test runner): what cron runs."""
    script = Path(sys.executable).with_name("laoyou")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "LAOYOU_"))}
    env.update(
        LAOYOU_ENV="development",
        SECRET_KEY="console-script-test-secret-key-0000000",
        FLASK_SKIP_DOTENV="1",
    )

    def laoyou(database: str, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(script), *args],
            env={**env, "DATABASE_URL": f"sqlite:///{tmp_path / database}"},
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )

    assert laoyou("live.sqlite3", "db", "upgrade").returncode == 0
    backup = laoyou("live.sqlite3", "backup", "--out", str(tmp_path / "nightly.backup"))
    assert backup.returncode == 0, backup.stderr
    restore = laoyou("new.sqlite3", "restore", str(tmp_path / "nightly.backup"))
    assert restore.returncode == 0, restore.stderr
    assert "(current)" in restore.stdout
    again = laoyou("new.sqlite3", "restore", str(tmp_path / "nightly.backup"))
    assert again.returncode == 1
    assert "already has tables" in again.stderr


@pytest.mark.postgresql_only
def test_a_database_in_the_public_schema_round_trips_and_can_be_replaced(
    databases: Databases, tmp_path: Path
) -> None:
    """The usual production layout: the whole database dumped, no ``--schema``."""
    databases.schema = "public"
    live = databases.new("public_live")
    assert cli(live)("db", "upgrade").exit_code == 0
    assert cli(live)("demo").exit_code == 0
    out = tmp_path / "laoyou.backup"
    assert cli(live)("backup", "--out", str(out)).exit_code == 0

    fresh = databases.new("public_fresh")
    first = cli(fresh)("restore", str(out))
    again = cli(fresh)("restore", str(out), "--force")  # over itself: --clean drops first

    assert first.exit_code == 0, first.output
    assert again.exit_code == 0, again.output
    assert cli(fresh)("ledger", "check").exit_code == 0
    assert balances(fresh) == balances(live)
