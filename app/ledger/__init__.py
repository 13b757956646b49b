"""The ledger: points, stored value and visits as a double-entry journal.

``init_app`` subscribes the ledger to other packages' events: a replaced card carries its
balances and a card issued with a value gets it (``operations``); ``laoyou cards show`` and
``member show`` print the balances, and ``laoyou cards return`` posts a card's return
(``cli``), and ``laoyou member import / export`` move members with their cards and
balances as CSV (``member_csv``); a new member earns the signup and referral
gifts (``rules.referral``); an approved manual adjustment is posted (``adjustments``).
Every process that builds the app gets them, API or not.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from app.approvals.services import register_kind
    from app.cards.cli import cards_group
    from app.jobs import register_job
    from app.ledger import adjustments, jobs, operations
    from app.ledger.cli import (
        balances_line,
        export_command,
        import_command,
        ledger_group,
        return_command,
    )
    from app.ledger.rules import referral
    from app.ledger.rules.cli import levels_group, rules_group
    from app.members.cli import member_group
    from app.signals import shown_in_cli

    operations.connect_signals()
    register_kind(app, adjustments.APPROVAL_KIND, adjustments.apply_approved)
    referral.connect_signals()
    shown_in_cli.connect(balances_line, weak=False)
    app.cli.add_command(ledger_group)
    # `laoyou cards return` is a posting: the ledger's command in the cards' group.
    cards_group.add_command(return_command)
    # `laoyou member import / export` post opening balances and read them: the ledger's.
    member_group.add_command(import_command)
    member_group.add_command(export_command)
    app.cli.add_command(rules_group)
    app.cli.add_command(levels_group)
    for job in jobs.JOBS:
        register_job(app, job)
