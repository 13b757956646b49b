"""``laoyou run --with-dispatcher --with-scheduler``: Flask's development server, plus the
outbox dispatcher and the scheduled jobs.

The demo (``make run``) needs them: members' alerts should appear as they would on a
phone, and expiry, reminders and the nightly check should run. The dispatcher runs in a
daemon thread of the serving process with its own app context, the scheduler as an
APScheduler ``BackgroundScheduler``; in production run ``laoyou outbox dispatch --loop``
(one or several) and ``laoyou scheduler`` (one) as processes of their own.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

import click
from flask.cli import ScriptInfo, get_debug_flag
from flask.cli import run_command as flask_run

log = logging.getLogger("laoyou.outbox")


def _start_dispatcher(info: ScriptInfo) -> None:
    # The messaging package hands its loop over in its init_app: the CLI imports no package.
    app = info.load_app()
    loop = app.extensions["laoyou.outbox_loop"]
    threading.Thread(target=loop, args=(app,), name="outbox-dispatcher", daemon=True).start()
    log.info("outbox dispatcher started (provider %s)", app.config["SMS_PROVIDER"])


def _start_scheduler(info: ScriptInfo) -> None:
    # The scheduler hands its starter over in its init_app: the CLI imports no package.
    app = info.load_app()
    app.extensions["laoyou.scheduler_start"](app)


def _require_migrated(info: ScriptInfo) -> None:
    """Unmigrated, every request would be a 500 and the dispatcher would retry forever."""
    from app.cli.db import require_migrated

    with info.load_app().app_context():
        require_migrated()


def _run(with_dispatcher: bool, with_scheduler: bool, **kwargs: Any) -> None:
    info = click.get_current_context().ensure_object(ScriptInfo)
    _require_migrated(info)
    reload = kwargs.get("reload")
    reloading = get_debug_flag() if reload is None else reload
    # With the reloader, only the child process serves; the watcher must not send or run jobs.
    if not reloading or os.environ.get("WERKZEUG_RUN_MAIN") == "true":
        if with_dispatcher:
            _start_dispatcher(info)
        if with_scheduler:
            _start_scheduler(info)
    assert flask_run.callback is not None
    click.get_current_context().invoke(flask_run.callback, **kwargs)


run_command = click.Command(
    name="run",
    callback=_run,
    params=[
        *flask_run.params,
        click.Option(
            ["--with-dispatcher"],
            is_flag=True,
            default=False,
            help="Also run the outbox dispatcher in this process (the demo).",
        ),
        click.Option(
            ["--with-scheduler"],
            is_flag=True,
            default=False,
            help="Also run the scheduled jobs in this process (the demo).",
        ),
    ],
    help=flask_run.help,
    short_help=flask_run.short_help,
)
