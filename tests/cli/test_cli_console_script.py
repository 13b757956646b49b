"""The real ``laoyou`` console script, as ``make run`` calls it, on a fresh SQLite file.

Each command runs in the test's own directory: ``instance/`` is made where the
command runs, never in the checkout.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

SCRIPT = Path(sys.executable).with_name("laoyou")


def laoyou(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *args],
        env=env,
        cwd=env["PWD"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    if not SCRIPT.exists():
        pytest.fail(f"{SCRIPT} is missing: install the package (make install)")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "LAOYOU_"))}
    return {
        **clean,
        "PWD": str(tmp_path),
        "LAOYOU_ENV": "development",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'laoyou.sqlite3'}",
        "SECRET_KEY": "console-script-test-secret-key-0000000",
        "ARGON2_TIME_COST": "1",
        "ARGON2_MEMORY_KIB": "8",
        "FLASK_SKIP_DOTENV": "1",
    }


def test_upgrade_demo_and_apikey_create_from_the_shell(env):
    upgraded = laoyou("db", "upgrade", env=env)
    assert upgraded.returncode == 0, upgraded.stderr

    demo = laoyou("demo", env=env)
    assert demo.returncode == 0, demo.stderr
    assert "30 members" in demo.stdout
    demo_key = demo.stdout.splitlines()[-1]

    created = laoyou("apikey", "create", "--store", "SH01", "--label", "script", env=env)
    assert created.returncode == 0, created.stderr
    key = created.stdout.splitlines()[-1]
    assert key.startswith("lyk_") and key != demo_key

    listed = laoyou("apikey", "list", env=env)
    assert listed.returncode == 0, listed.stderr
    assert key[:12] in listed.stdout and demo_key[:12] in listed.stdout
    assert key not in listed.stdout and demo_key not in listed.stdout


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        (
            "DATABASE_URL",
            "mysql://x",
            "DATABASE_URL must be sqlite:///PATH or postgresql+psycopg://",
        ),
        ("PIN_MAX_ATTEMPTS", "five", "PIN_MAX_ATTEMPTS must be a whole number"),
    ],
)
def test_a_configuration_error_is_one_clear_line(env, variable, value, message):
    result = laoyou("db", "current", env={**env, variable: value})

    assert result.returncode == 2
    assert result.stderr.startswith("laoyou: configuration error: ")
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr + result.stdout


def test_production_without_a_database_url_refuses_to_start(env):
    env = {k: v for k, v in env.items() if k != "DATABASE_URL"}
    env.update(LAOYOU_ENV="production", SECRET_KEY="x" * 40)

    result = laoyou("db", "upgrade", env=env)

    assert result.returncode == 2
    assert result.stderr == (
        "laoyou: configuration error: DATABASE_URL must be set in production "
        "(postgresql+psycopg://USER@HOST:5432/DB)\n"
    )
    assert not (Path(env["PWD"]) / "instance").exists()


def test_without_a_database_url_the_database_is_instance_under_the_working_directory(env):
    env = {k: v for k, v in env.items() if k != "DATABASE_URL"}

    result = laoyou("db", "upgrade", env=env)

    assert result.returncode == 0, result.stderr
    assert (Path(env["PWD"]) / "instance" / "laoyou.sqlite3").stat().st_size > 0


UNMIGRATED = "laoyou: the database is not migrated: run 'laoyou db upgrade'\n"


@pytest.mark.parametrize(
    "command",
    [
        ("demo",),
        ("sms", "simulate", "+8613700000001", "帮助"),
        ("outbox", "dispatch", "--loop"),
        ("run", "--port", "5999"),
    ],
)
def test_an_empty_sqlite_file_is_one_line_and_exit_2(env, command):
    Path(env["DATABASE_URL"].removeprefix("sqlite:///")).touch()

    result = laoyou(*command, env=env)

    assert (result.returncode, result.stderr, result.stdout) == (2, UNMIGRATED, "")


def test_a_fresh_postgresql_database_is_one_line_and_exit_2(env):
    from tests.conftest import IN_CI, PG_URL, _pg_conninfo, _postgres_reason

    reason = _postgres_reason()
    if reason:
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)
    schema = f"unmigrated_{os.getpid()}"
    with psycopg.connect(_pg_conninfo(PG_URL), autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        conn.execute(f"CREATE SCHEMA {schema}")
    url = make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    env["DATABASE_URL"] = url.render_as_string(hide_password=False)
    try:
        results = [laoyou(*c, env=env) for c in (("store", "list"), ("demo",))]
    finally:
        with psycopg.connect(_pg_conninfo(PG_URL), autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")

    for result in results:
        assert (result.returncode, result.stderr, result.stdout) == (2, UNMIGRATED, "")


def test_a_database_behind_the_code_is_told_to_upgrade(env):
    assert laoyou("db", "upgrade", "0001_foundation", env=env).returncode == 0

    result = laoyou("rules", "export", env=env)

    assert (result.returncode, result.stderr) == (2, UNMIGRATED)


def test_the_demo_key_stays_the_same_across_runs_in_development(env):
    assert laoyou("db", "upgrade", env=env).returncode == 0
    first = laoyou("demo", env=env)
    again = laoyou("demo", env=env)
    assert first.returncode == again.returncode == 0, first.stderr + again.stderr

    key = first.stdout.splitlines()[-1]
    assert key.startswith("lyk_") and again.stdout.splitlines()[-1] == key
    listed = laoyou("apikey", "list", env=env).stdout.splitlines()
    demo_rows = [line.split() for line in listed if " demo " in line]
    assert demo_rows == [[key[:12], "SH01", "demo", *demo_rows[0][3:5]]]  # one, not revoked
    assert len(demo_rows[0]) == 5

    # Revoked by hand: the next run makes a new one and keeps that.
    assert laoyou("apikey", "revoke", key[:12], env=env).returncode == 0
    new = laoyou("demo", env=env).stdout.splitlines()[-1]
    assert new.startswith("lyk_") and new != key
    assert laoyou("demo", env=env).stdout.splitlines()[-1] == new


def test_help_is_about_laoyou(env):
    result = laoyou("--help", env=env)

    assert result.returncode == 0, result.stderr
    assert "Laoyou" in result.stdout
    for command in ("db", "demo", "sms", "outbox", "levels", "rules", "run"):
        assert f"\n  {command} " in result.stdout
    assert "--version" not in result.stdout and "Flask version" not in result.stdout
    assert "openapi" not in result.stdout
    assert "--app" not in result.stdout
    assert laoyou("openapi", "print", env=env).returncode == 2  # no such command
