"""The admin panel at /admin: staff sign in, and each room checks a named permission.

Server-rendered pages (Jinja, ``templates/admin/``) over the same services as the API
and the CLI. ``guard`` holds the sign-in and permission checks every view goes through;
each subject has its own small module of views on the one blueprint.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from app.admin import guard, jobs
    from app.admin.blueprint import admin_bp
    from app.jobs import register_job

    # Session and remember cookies: never read by scripts, not sent by other sites'
    # forms, and over HTTPS only in production.
    secure = app.config.get("LAOYOU_ENV") == "production"
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=secure,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=secure,
    )
    guard.init_app(app)
    app.register_blueprint(admin_bp)
    for job in jobs.JOBS:
        register_job(app, job)
