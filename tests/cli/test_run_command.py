"""``laoyou run --with-dispatcher`` (what ``make run`` uses) is there and starts the loop."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest


def test_run_offers_with_dispatcher() -> None:
    laoyou = Path(sys.executable).with_name("laoyou")
    result = subprocess.run(
        [str(laoyou), "run", "--help"], capture_output=True, text=True, timeout=60, check=True
    )
    assert "--with-dispatcher" in result.stdout
    assert "--port" in result.stdout  # Flask's own options are kept


def test_with_dispatcher_starts_the_loop_before_serving(monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner
    from flask.cli import ScriptInfo

    from app.cli import run as module

    started: list[Any] = []
    served: list[dict[str, Any]] = []
    monkeypatch.setattr(module, "_start_dispatcher", started.append)
    monkeypatch.setattr(module, "_require_migrated", lambda info: None)  # no app here
    monkeypatch.setattr(module.flask_run, "callback", lambda **kw: served.append(kw))
    info = ScriptInfo(create_app=lambda: None)
    result = CliRunner().invoke(
        module.run_command, ["--port", "5999", "--with-dispatcher"], obj=info
    )
    assert result.exit_code == 0, result.output
    assert len(started) == 1
    assert served[0]["port"] == 5999
    started.clear()
    CliRunner().invoke(module.run_command, ["--port", "5999"], obj=info)
    assert started == []
