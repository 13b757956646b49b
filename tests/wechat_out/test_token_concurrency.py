"""One access token for every process: concurrent askers cause one token request, with real
commits on both databases (threads with their own connections, and separate processes)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from app import create_app
from app.messaging.providers.wechat import WechatClient, wechat_client
from app.messaging.providers.wechat_fake import FakeWechatApi
from tests.conftest import settings_for
from tests.wechat_out.support import OPENID, wechat_settings

pytestmark = pytest.mark.concurrent

ASKERS = 6


def _ask_at_once(app: Flask, stale: str | None = None) -> list[str]:
    """ASKERS threads, each its own client (no shared memory) and its own connection."""
    barrier = threading.Barrier(ASKERS)
    tokens: list[str] = []
    errors: list[BaseException] = []

    def ask() -> None:
        try:
            with app.app_context():
                client = WechatClient.from_config(app.config)
                barrier.wait()
                tokens.append(client.access_token(stale=stale))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(ASKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    return tokens


def test_threads_asking_at_once_cause_one_token_request(
    live_app: Flask, fake_wechat: FakeWechatApi
) -> None:
    fake_wechat.token_delay = 0.3  # the first refresh is still running when the others ask
    tokens = _ask_at_once(live_app)
    assert len(fake_wechat.token_requests()) == 1
    assert tokens == fake_wechat.tokens_issued * ASKERS


def test_threads_meeting_a_refused_token_at_once_refresh_it_once(
    live_app: Flask, fake_wechat: FakeWechatApi
) -> None:
    with live_app.app_context():
        old = wechat_client(live_app).access_token()
    fake_wechat.revoke_tokens()
    fake_wechat.token_delay = 0.3
    tokens = _ask_at_once(live_app, stale=old)
    assert len(fake_wechat.token_requests()) == 2
    new = fake_wechat.tokens_issued[1]
    assert tokens == [new] * ASKERS
    with live_app.app_context():
        wechat_client(live_app).send_text(OPENID, "hello")  # its memo is stale: one 40001
    assert len(fake_wechat.token_requests()) == 2


def test_a_second_app_instance_uses_the_first_ones_token(
    live_app: Flask, backend: dict[str, Any], fake_wechat: FakeWechatApi
) -> None:
    with live_app.app_context():
        wechat_client(live_app).send_text(OPENID, "from the web")
    other = create_app(settings_for(backend, **wechat_settings(fake_wechat.base_url)))
    with other.app_context():
        wechat_client(other).send_text(OPENID, "from the dispatcher")
    assert len(fake_wechat.token_requests()) == 1
    assert len(fake_wechat.calls("/cgi-bin/message/custom/send")) == 2


ASKER = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from app import create_app
    from app.messaging.providers.wechat import wechat_client

    settings = json.loads(sys.argv[1])
    go = Path(sys.argv[2])
    app = create_app(settings)
    with app.app_context():
        client = wechat_client(app)
        print("ready", flush=True)
        while not go.exists():
            time.sleep(0.01)
        print(client.access_token(), flush=True)
    """
)


def test_processes_asking_at_once_cause_one_token_request(
    live_app: Flask, backend: dict[str, Any], fake_wechat: FakeWechatApi, tmp_path: Path
) -> None:
    fake_wechat.token_delay = 0.5
    settings = {
        "LAOYOU_ENV": "testing",
        "SECRET_KEY": "test-secret-key-that-is-long-enough-000",
        "DATABASE_URL": backend["url"],
        **wechat_settings(fake_wechat.base_url),
    }
    go = tmp_path / "go"
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", ASKER, json.dumps(settings), str(go)],
            stdout=subprocess.PIPE,
            text=True,
            cwd=tmp_path,
        )
        for _ in range(3)
    ]
    try:
        for process in processes:
            assert process.stdout is not None
            assert process.stdout.readline().strip() == "ready"
        go.touch()
        tokens = []
        for process in processes:
            out, _ = process.communicate(timeout=60)
            assert process.returncode == 0
            tokens.append(out.strip())
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
    assert len(fake_wechat.token_requests()) == 1
    assert tokens == fake_wechat.tokens_issued * 3


def test_a_request_that_needs_a_token_commits_both_without_waiting_for_itself(
    live_app: Flask, fake_wechat: FakeWechatApi
) -> None:
    """Real commits: on SQLite the request's transaction holds the one write lock when the
    token is needed, so the token is written in a savepoint of it (a second connection
    would wait for the lock until the busy timeout)."""
    from app.auth.services import create_api_key
    from app.cards.services import enroll
    from app.db import db, unit_of_work
    from app.stores.services import create_store
    from app.wechat.models import WechatScene

    with live_app.app_context(), unit_of_work():
        store = create_store("SH01", "Store SH01", "East")
        enroll({"phone": "+8613800138000", "home_store": "SH01"}, card_type="stored_value")
        _key, secret = create_api_key(store)
    started = time.monotonic()
    response = live_app.test_client().post(
        "/api/v1/members/13800138000/wechat-qr",
        json={},
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert response.status_code == 201, response.json
    assert time.monotonic() - started < 5
    with live_app.app_context():
        [scene] = db.session.query(WechatScene).all()
        assert scene.ticket == response.json["ticket"]
        # The stored token serves the next process without asking WeChat.
        assert (
            WechatClient.from_config(live_app.config).access_token()
            == (fake_wechat.tokens_issued[0])
        )
    assert len(fake_wechat.token_requests()) == 1
