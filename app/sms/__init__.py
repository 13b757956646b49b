"""The SMS channel: Twilio webhooks, the simulator and ``laoyou sms``.

Sending lives in ``app/messaging`` (outbox, dispatcher, providers); this package
only translates between Twilio and the channel-free engine.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from app.sms.cli import sms_group
    from app.sms.simulator import bp as simulator_bp
    from app.sms.twilio_webhooks import bp as twilio_bp

    app.register_blueprint(twilio_bp)
    app.register_blueprint(simulator_bp)
    app.cli.add_command(sms_group)
