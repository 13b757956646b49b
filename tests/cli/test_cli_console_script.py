"""The real ``laoyou`` console script, as ``make run`` calls it, on a fresh SQLite file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(sys.executable).with_name("laoyou")


def laoyou(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    if not SCRIPT.exists():
        pytest.fail(f"{SCRIPT} is missing: install the package (make install)")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "LAOYOU_"))}
    return {
        **clean,
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


def test_demo_before_upgrade_says_what_to_do(env):
    result = laoyou("demo", env=env)

    assert result.returncode == 1
    assert "run 'laoyou db upgrade' first" in result.stderr
