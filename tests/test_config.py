"""Configuration comes from the environment; a bad value is refused naming the variable."""

from __future__ import annotations

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
    ],
)
def test_bad_values_are_refused_with_the_variable_named(
    tmp_path: Path, env: dict[str, str], names: str
) -> None:
    with pytest.raises(ConfigError, match=names):
        settings(tmp_path, **env)


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
