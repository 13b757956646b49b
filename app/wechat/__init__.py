"""The WeChat channel: the official account's webhook at ``/wechat``, its events and
menus, scene QR codes, the e-card page and ``laoyou wechat``.

A thin adapter around the channel-free engine (``app.bot``), as ``app.sms`` is for
Twilio; sending lives in ``app.messaging`` (outbox, dispatcher, the WeChat provider).
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from app.wechat.cli import wechat_group
    from app.wechat.ecard import bp as ecard_bp

    app.register_blueprint(ecard_bp)
    app.cli.add_command(wechat_group)
