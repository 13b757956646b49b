"""``laoyou scheduler`` as production runs it: a process that runs a due job, then stops on
SIGTERM (a fresh SQLite file, the installed console script)."""

from __future__ import annotations

import datetime as dt
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

SCRIPT = Path(sys.executable).with_name("laoyou")


def test_the_scheduler_process_runs_a_due_job_and_stops_on_sigterm(tmp_path: Path) -> None:
    database = tmp_path / "laoyou.sqlite3"
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "LAOYOU_", "JOB_"))}
    # The check's time passed a minute ago: inside the misfire grace, so it runs at start.
    due = (dt.datetime.now(ZoneInfo("Asia/Shanghai")) - dt.timedelta(minutes=1)).strftime("%H:%M")
    env = {
        **clean,
        "LAOYOU_ENV": "development",
        "DATABASE_URL": f"sqlite:///{database}",
        "SECRET_KEY": "scheduler-process-test-secret-key-000000",
        "FLASK_SKIP_DOTENV": "1",
        "JOB_LEDGER_CHECK_AT": due,
        "JOB_OUTBOX_SWEEP_EVERY": "off",
    }
    upgraded = subprocess.run(
        [str(SCRIPT), "db", "upgrade"], env=env, cwd=tmp_path, capture_output=True, timeout=120
    )
    assert upgraded.returncode == 0, upgraded.stderr

    process = subprocess.Popen(
        [str(SCRIPT), "scheduler"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        outcome = None
        deadline = time.monotonic() + 60
        while outcome is None and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.5)
            with sqlite3.connect(database) as conn:
                row = conn.execute(
                    "SELECT outcome, trigger, run_key FROM job_run WHERE job = 'ledger_check'"
                ).fetchone()
            outcome = row
        assert outcome is not None, "the due ledger check did not run"
        assert outcome[:2] == ("ok", "schedule")
        assert outcome[2].startswith("ledger_check@") and f"T{due}+08:00" in outcome[2]
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert "ledger_check (daily " in out
    assert "outbox_sweep" not in out  # off
    assert out.rstrip().endswith("scheduler stopped")
