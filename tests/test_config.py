"""Configuration comes from the environment; a bad value is refused naming the variable."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.config import ConfigError, Settings


def settings(tmp_path: Path, **env: str) -> Settings:
    s = Settings.from_env(env)
    s.validate(tmp_path)
    return s


def test_defaults_make_a_local_sqlite_database_and_a_kept_secret(tmp_path: Path) -> None:
    first = settings(tmp_path)
    local_file = tmp_path / "laoyou.sqlite3"
    assert f"sqlite:///{local_file}" == first.DATABASE_URL
    assert len(first.SECRET_KEY) >= 32
    assert settings(tmp_path).SECRET_KEY == first.SECRET_KEY  # survives a restart


def test_postgres_url_gets_the_psycopg3_driver(tmp_path: Path) -> None:
    s = settings(tmp_path, DATABASE_URL="postgresql://shop@db.internal:5432/laoyou")
    assert s.DATABASE_URL == "postgresql+psycopg://shop@db.internal:5432/laoyou"


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"LAOYOU_ENV": "staging"}, "LAOYOU_ENV"),
        ({"LAOYOU_ENV": "production"}, "SECRET_KEY"),
        ({"LAOYOU_ENV": "production", "SECRET_KEY": "short"}, "SECRET_KEY"),
        ({"DATABASE_URL": "mysql://root@localhost/x"}, "DATABASE_URL"),
        ({"DATABASE_URL": "not a url"}, "DATABASE_URL"),
        ({"DEFAULT_PHONE_REGION": "XX"}, "DEFAULT_PHONE_REGION"),
        ({"DEFAULT_LANGUAGE": "fr"}, "DEFAULT_LANGUAGE"),
        ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
        ({"TIMEZONE": "Mars/Olympus"}, "TIMEZONE"),
        ({"PIN_MAX_ATTEMPTS": "five"}, "PIN_MAX_ATTEMPTS"),
        ({"PIN_MAX_ATTEMPTS": "0"}, "PIN_MAX_ATTEMPTS"),
        ({"CARD_NUMBER_PREFIX": "8a"}, "CARD_NUMBER_PREFIX"),
        ({"MAX_TRANSACTION_FEN": "0"}, "MAX_TRANSACTION_FEN"),
        ({"MAX_TRANSACTION_FEN": "100000000001"}, "MAX_TRANSACTION_FEN"),
        ({"MAX_TRANSACTION_FEN": "1e6"}, "MAX_TRANSACTION_FEN"),
        ({"REFUND_SCOPE": "anywhere"}, "REFUND_SCOPE"),
        ({"DB_PREPARED_STATEMENTS": "maybe"}, "DB_PREPARED_STATEMENTS"),
        ({"LEDGER_FUSED_CARD_READ": "sometimes"}, "LEDGER_FUSED_CARD_READ"),
    ],
)
def test_bad_values_are_refused_with_the_variable_named(
    tmp_path: Path, env: dict[str, str], names: str
) -> None:
    with pytest.raises(ConfigError, match=names):
        settings(tmp_path, **env)


@pytest.mark.parametrize(("raw", "on"), [("", True), ("false", False), ("0", False), ("ON", True)])
def test_prepared_statements_are_a_switch(tmp_path: Path, raw: str, on: bool) -> None:
    assert settings(tmp_path, DB_PREPARED_STATEMENTS=raw).DB_PREPARED_STATEMENTS is on


@pytest.mark.parametrize(("raw", "on"), [("", True), ("false", False), ("1", True)])
def test_the_fused_card_read_is_a_switch(tmp_path: Path, raw: str, on: bool) -> None:
    assert settings(tmp_path, LEDGER_FUSED_CARD_READ=raw).LEDGER_FUSED_CARD_READ is on


def test_money_limits_default_to_the_safe_values(tmp_path: Path) -> None:
    s = settings(tmp_path)
    assert (s.MAX_TRANSACTION_FEN, s.REFUND_SCOPE) == (10_000_000, "store_of_sale")
    s = settings(tmp_path, MAX_TRANSACTION_FEN="500000", REFUND_SCOPE="chain")
    assert (s.MAX_TRANSACTION_FEN, s.REFUND_SCOPE) == (500_000, "chain")


def test_production_does_not_invent_a_secret(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        settings(tmp_path, LAOYOU_ENV="production", DATABASE_URL="postgresql://x@h/db")
    assert not (tmp_path / "secret_key").exists()


def test_every_setting_is_documented() -> None:
    """The README and .env.example list every variable the service reads."""
    import dataclasses

    root = Path(__file__).resolve().parent.parent
    readme = (root / "README.md").read_text()
    example = (root / ".env.example").read_text()
    names = [f.name for f in dataclasses.fields(Settings) if f.name != "extra"]
    assert [n for n in names if n not in readme] == []
    assert [n for n in names if f"{n}=" not in example] == []


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"LAOYOU_ENV": "production", "SECRET_KEY": "x" * 40}, "DATABASE_URL must be set"),
        ({"RATELIMIT_STORAGE_URI": "memcached://127.0.0.1:11211"}, "RATELIMIT_STORAGE_URI"),
    ],
)
def test_what_production_needs_is_checked_at_start_up(
    tmp_path: Path, env: dict[str, str], names: str
) -> None:
    with pytest.raises(ConfigError, match=names):
        settings(tmp_path, **env)


def test_production_keeps_the_sqlite_file_it_is_given(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shop.sqlite3'}"
    s = settings(tmp_path, LAOYOU_ENV="production", SECRET_KEY="x" * 40, DATABASE_URL=url)
    assert url == s.DATABASE_URL


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    """A throw-away redis-server on a free port (Debian's, as the README's production)."""
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not installed")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", tmp_path],
        stdout=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            with socket.socket() as conn:
                if conn.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_rate_limits_on_redis_work_as_the_readme_says(tmp_path: Path, redis_url: str) -> None:
    from app.bot.ratelimit import SenderLimiter, Verdict

    s = settings(tmp_path, RATELIMIT_STORAGE_URI=redis_url, BOT_RATE_LIMIT="2/minute")
    first, second = (SenderLimiter(s.RATELIMIT_STORAGE_URI, s.BOT_RATE_LIMIT) for _ in "ab")

    # Two workers, one count: the third message from a sender is over the limit.
    verdicts = [first.check("+8613700000001"), second.check("+8613700000001")]
    verdicts += [first.check("+8613700000001"), second.check("+8613700000001")]
    assert verdicts == [Verdict.ALLOW, Verdict.ALLOW, Verdict.WARN, Verdict.SILENCE]
