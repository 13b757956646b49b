"""The demo's WeChat: ``laoyou wechat fake-api`` in one shell, ``laoyou wechat menu push`` and
``laoyou wechat qr`` in another, through the real console script."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(sys.executable).with_name("laoyou")


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "LAOYOU_", "WECHAT_"))
    }
    return {
        **clean,
        "LAOYOU_ENV": "development",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'laoyou.sqlite3'}",
        "SECRET_KEY": "fake-wechat-cli-test-secret-key-00000",
        "ARGON2_TIME_COST": "1",
        "ARGON2_MEMORY_KIB": "8",
        "FLASK_SKIP_DOTENV": "1",
        "PYTHONUNBUFFERED": "1",
    }


def _run(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )


def test_the_fake_api_serves_the_demo_and_prints_what_it_receives(
    env: dict[str, str], tmp_path: Path
) -> None:
    fake = subprocess.Popen(
        [str(SCRIPT), "wechat", "fake-api", "--port", "0"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert fake.stdout is not None
        first = fake.stdout.readline()
        found = re.search(r"fake WeChat API at (http://127\.0\.0\.1:\d+)", first)
        assert found, first
        settings = fake.stdout.readline().split()
        assert settings[0] == "WECHAT_PROVIDER=api"
        env.update(item.split("=", 1) for item in settings)
        assert env["WECHAT_API_BASE_URL"] == found.group(1)

        upgraded = _run("db", "upgrade", env=env, cwd=tmp_path)
        assert upgraded.returncode == 0, upgraded.stderr
        pushed = _run("wechat", "menu", "push", env=env, cwd=tmp_path)
        assert pushed.returncode == 0, pushed.stderr
        assert pushed.stdout.strip() == "menu pushed: 我的积分 | 我的余额 | 会员"
        assert fake.stdout.readline().startswith(
            '/cgi-bin/menu/create {"button": [{"type": "click"'
        )

        demo = _run("demo", env=env, cwd=tmp_path)
        assert demo.returncode == 0, demo.stderr
        qr = _run("wechat", "qr", "13800138000", env=env, cwd=tmp_path)
        assert qr.returncode == 0, qr.stderr
        assert qr.stdout.startswith("ticket:  gQ")
        line = fake.stdout.readline()
        assert line.startswith('/cgi-bin/qrcode/create {"action_name": "QR_STR_SCENE"')
    finally:
        fake.send_signal(signal.SIGINT)
        out, err = fake.communicate(timeout=30)
    assert fake.returncode == 0, err
    assert out.strip().endswith("fake WeChat API stopped")
