"""Laoyou: a membership and loyalty service for SMS and WeChat.

``create_app`` builds the Flask app; every process (web, CLI, scheduler,
dispatcher, station) calls it and pushes an app context.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from app.config import ConfigError, Settings, StartupError
from app.paths import templates_dir

__all__ = ["ConfigError", "StartupError", "create_app"]


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app. With ``config`` (tests) the environment is not read at all."""
    # instance/ (the development SQLite file and secret key) is where the command runs, as
    # in a checkout, never inside the installed package's prefix (Flask's default there).
    app = Flask(
        __name__,
        template_folder=str(templates_dir()),
        instance_path=str(Path.cwd() / "instance"),
    )
    settings = Settings.from_env({} if config is not None else None, **dict(config or {}))
    settings.validate(Path(app.instance_path))
    app.config.from_mapping(settings.as_flask_config())
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.json.sort_keys = False  # type: ignore[attr-defined]
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # LOG_LEVEL is Laoyou's own loggers' (libraries stay at INFO: SQLAlchemy's DEBUG is
    # every statement).
    for name in ("app", "laoyou"):
        logging.getLogger(name).setLevel(settings.LOG_LEVEL)
    logging.getLogger("alembic").setLevel(logging.WARNING)

    from app import (
        admin,
        api,
        approvals,
        audit,
        auth,
        bot,
        campaigns,
        cards,
        cli,
        demo,
        home,
        i18n,
        ledger,
        members,
        messaging,
        models,
        ops,
        reports,
        sms,
        stores,
        texts,
        wechat,
    )
    from app.db import db
    from app.web import boundary, cookies

    models.import_all()
    db.init_app(app)
    i18n.init_app(app)
    cookies.init_app(app)
    boundary.install(app)
    # Each package wires its own signal receivers, blueprints and CLI groups: nothing is
    # registered by being imported, so every process built here behaves the same.
    for package in (
        audit,
        stores,
        texts,
        auth,
        approvals,
        members,
        cards,
        ledger,
        messaging,
        bot,
        campaigns,
        api,
        sms,
        wechat,
        home,
        reports,
        admin,
        ops,
    ):
        package.init_app(app)
    cli.init_app(app)
    demo.init_app(app)
    # The top-level scheduler package runs the jobs the packages registered above (a bad
    # JOB_<NAME>_AT setting stops the start); no package of app/ imports it.
    import scheduler

    scheduler.init_app(app)
    return app
