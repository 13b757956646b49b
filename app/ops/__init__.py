"""Operations: what keeps a deployment healthy, not what a member or a shop sees.

``GET /healthz`` (is the database reachable), ``GET /metrics`` (Prometheus: requests,
the outbox, job runs) and ``laoyou backup`` / ``laoyou restore``. Everything is wired
here, in ``init_app``; the scheduler hands in its job runs through ``provide_job_runs``.
"""

from __future__ import annotations

from flask import Flask

from app.ops.metrics import provide_job_runs

__all__ = ["init_app", "provide_job_runs"]


def init_app(app: Flask) -> None:
    from app.ops import metrics
    from app.ops.cli import backup_command, restore_command
    from app.ops.views import bp

    app.register_blueprint(bp)
    metrics.install(app)
    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)
