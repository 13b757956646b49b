"""A non-editable install, as a Dockerfile makes one: built from a clean copy of the tree
(no ``.mo`` files), installed into a fresh virtual environment, run from elsewhere.

The build runs without isolation and the fresh environment reaches the development
environment's dependencies through a ``.pth`` line, so nothing is downloaded; only
``laoyou`` itself is installed (``--no-deps``). A ``.pth`` line adds a directory to
``sys.path`` without running that directory's own ``.pth`` files, so the checkout's
editable ``app`` stays out of reach.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

from app import catalogs, create_app
from app.config import StartupError

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
    return done.stdout


def clean_copy(destination: Path) -> Path:
    """The files git would check out (tracked, or new and not ignored): no .mo, no .venv."""
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: nothing to copy a clean tree from")
    listed = run("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", cwd=ROOT)
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    return destination


def test_a_wheel_built_from_the_sdist_speaks_chinese_and_runs_the_demo(tmp_path: Path) -> None:
    source = clean_copy(tmp_path / "src")
    assert not list(source.rglob("*.mo"))
    dist = tmp_path / "dist"
    python = sys.executable
    run(python, "-c", f"from setuptools import build_meta as b; b.build_sdist({str(dist)!r})",
        cwd=source)  # fmt: skip
    (sdist,) = dist.glob("laoyou-*.tar.gz")
    run(python, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", dist,
        sdist, cwd=tmp_path)  # fmt: skip
    (wheel,) = dist.glob("laoyou-*.whl")

    target = tmp_path / "venv"
    venv.create(target, with_pip=False)
    fresh = target / "bin" / "python"
    purelib = run(fresh, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))",
                  cwd=tmp_path).strip()  # fmt: skip
    (Path(purelib) / "dev-dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    run(python, "-m", "pip", "--python", fresh, "install", "-q", "--no-deps", wheel, cwd=tmp_path)

    elsewhere = tmp_path / "shop"
    elsewhere.mkdir()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("FLASK_", "LAOYOU_", "PYTHON")) and k != "DATABASE_URL"
    }
    env.update(FLASK_SKIP_DOTENV="1", ARGON2_TIME_COST="1", ARGON2_MEMORY_KIB="8")
    laoyou = target / "bin" / "laoyou"

    where = run(fresh, "-c", "import app; print(app.__file__)", cwd=elsewhere, env=env)
    assert where.startswith(purelib)
    run(laoyou, "db", "upgrade", cwd=elsewhere, env=env)
    assert (elsewhere / "instance" / "laoyou.sqlite3").is_file()  # not in the venv
    reply = run(laoyou, "sms", "simulate", "+8613700000001", "帮助", cwd=elsewhere, env=env)
    assert reply.startswith("欢迎！"), reply
    example = run(laoyou, "rules", "example", cwd=elsewhere, env=env)
    assert '"MUG"' in example
    demo = run(laoyou, "demo", cwd=elsewhere, env=env)
    assert "30 members" in demo and "gift redemptions" in demo
    # The report pages' charting library ships in the wheel, its licence beside it.
    fetch = (
        "from app import create_app; c = create_app().test_client(); "
        "r = c.get('/assets/reports/chartjs/chart.umd.min.js'); "
        "l = c.get('/assets/reports/chartjs/LICENSE.md'); "
        "print(r.status_code, l.status_code, r.data[:40])"
    )
    served = run(fresh, "-c", fetch, cwd=elsewhere, env=env)
    assert served.startswith("200 200 b'/*!\\n * Chart.js v4"), served
    # The scheduler ships beside app (a top-level package) and runs the packages' jobs.
    shipped = run(
        fresh, "-c", "import scheduler; print(scheduler.__file__)", cwd=elsewhere, env=env
    )
    assert shipped.startswith(purelib)
    checked = run(laoyou, "jobs", "run", "ledger_check", cwd=elsewhere, env=env)
    assert ": ok: accounts " in checked, checked


def test_a_missing_catalog_stops_the_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for po in catalogs.TRANSLATIONS.glob("*/LC_MESSAGES/messages.po"):
        copy = tmp_path / po.relative_to(catalogs.TRANSLATIONS)
        copy.parent.mkdir(parents=True)
        shutil.copy(po, copy)
        shutil.copy(po.with_suffix(".mo"), copy.with_suffix(".mo"))
    (tmp_path / "zh_Hant" / "LC_MESSAGES" / "messages.mo").unlink()
    monkeypatch.setattr(catalogs, "TRANSLATIONS", tmp_path)
    missing = tmp_path / "zh_Hant" / "LC_MESSAGES" / "messages.mo"

    with pytest.raises(StartupError, match=f"the translation catalog {missing} is missing"):
        create_app({"LAOYOU_ENV": "testing", "SECRET_KEY": "x" * 40, "DATABASE_URL": "sqlite://"})

    from app.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FLASK_SKIP_DOTENV", "1")
    monkeypatch.delenv("LAOYOU_ENV", raising=False)
    monkeypatch.setenv("DATABASE_URL", "sqlite://")
    monkeypatch.setattr(sys, "argv", ["laoyou", "store", "list"])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err == (
        f"laoyou: the translation catalog {missing} is missing: in a checkout run "
        "'python -m app.catalogs' (building the package compiles it)\n"
    )
