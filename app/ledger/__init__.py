"""The ledger: points, stored value and visits as a double-entry journal.

``init_app`` subscribes the ledger to other packages' events: a replaced card carries its
balances (``operations``), a new member earns the signup and referral gifts (``rules.referral``).
Every process that builds the app gets them, with or without the API.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from app.ledger import operations
    from app.ledger.cli import ledger_group
    from app.ledger.rules import referral
    from app.ledger.rules.cli import levels_group, rules_group

    operations.connect_signals()
    referral.connect_signals()
    app.cli.add_command(ledger_group)
    app.cli.add_command(rules_group)
    app.cli.add_command(levels_group)
