"""``laoyou apikey create / revoke / list``."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.auth.models import ApiKey
from app.auth.services import authenticate
from app.db import db
from app.errors import Unauthorized


@pytest.fixture
def sh01(runner):
    result = runner.invoke(
        args=["store", "create", "SH01", "--name", "上海南京路店", "--region", "华东"]
    )
    assert result.exit_code == 0, result.output


def create_key(runner, *extra: str) -> str:
    result = runner.invoke(args=["apikey", "create", "--store", "SH01", *extra])
    assert result.exit_code == 0, result.output
    return result.output.splitlines()[-1]


def test_create_prints_the_key_alone_on_the_last_line_and_it_authenticates(runner, sh01):
    key = create_key(runner, "--label", "POS 2")

    assert key.startswith("lyk_") and " " not in key
    api_key = authenticate(key)
    assert api_key.store.code == "SH01"
    assert api_key.label == "POS 2"


def test_the_secret_is_not_stored(runner, sh01):
    key = create_key(runner)

    stored = db.session.scalars(select(ApiKey)).one()
    assert key not in (stored.prefix, stored.key_sha256, stored.label)


def test_create_for_unknown_store_is_refused_and_writes_nothing(runner, sh01):
    result = runner.invoke(args=["apikey", "create", "--store", "XX99"])

    assert result.exit_code == 1
    assert "no store with code 'XX99'" in result.output
    assert db.session.scalar(select(func.count(ApiKey.id))) == 0


def test_revoked_key_is_refused(runner, sh01):
    key = create_key(runner)
    prefix = key[:12]

    result = runner.invoke(args=["apikey", "revoke", prefix])

    assert result.exit_code == 0, result.output
    assert f"API key {prefix}… of store SH01 revoked" in result.output
    with pytest.raises(Unauthorized, match="revoked"):
        authenticate(key)


def test_revoking_an_unknown_prefix_fails_cleanly(runner, sh01):
    key = create_key(runner)

    result = runner.invoke(args=["apikey", "revoke", "lyk_nosuchkey"])

    assert result.exit_code == 1
    assert "no API key starts with 'lyk_nosuchkey'" in result.output
    assert authenticate(key).revoked_at is None


def test_list_shows_prefix_store_label_and_revocation_but_never_the_secret(runner, sh01):
    live = create_key(runner, "--label", "收银台1")
    gone = create_key(runner, "--label", "old POS")
    runner.invoke(args=["apikey", "revoke", gone[:12]])

    result = runner.invoke(args=["apikey", "list"])

    assert result.exit_code == 0, result.output
    header, first, second = result.output.splitlines()
    assert header.split() == ["prefix", "store", "label", "created", "revoked"]
    assert first.split()[:3] == [live[:12], "SH01", "收银台1"]
    assert len(first.split()) == 5  # created date and time, nothing revoked
    assert second.startswith(gone[:12]) and len(second.split()) == 8  # revoked date and time
    assert live not in result.output and gone not in result.output
    assert live[12:20] not in result.output
