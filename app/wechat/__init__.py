"""The WeChat channel: the official account's webhook at ``/wechat``, its events and
menus, scene QR codes, the e-card page and ``laoyou wechat``.

A thin adapter around the channel-free engine (``app.bot``), as ``app.sms`` is for
Twilio; sending lives in ``app.messaging`` (outbox, dispatcher, the WeChat provider).
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """The webhook (and its WeRoBot, built once from the settings), the e-card page and
    ``laoyou wechat``."""
    from app.wechat.cli import wechat_group
    from app.wechat.ecard import bp as ecard_bp
    from app.wechat.simulator import simulate_command
    from app.wechat.transport import EXTENSION, make_robot
    from app.wechat.views import bp as webhook_bp

    app.extensions[EXTENSION] = make_robot(app.config)
    app.register_blueprint(webhook_bp)
    app.register_blueprint(ecard_bp)
    wechat_group.add_command(simulate_command)
    app.cli.add_command(wechat_group)
