"""Imports every package's models so the metadata (and Alembic) sees all tables."""

from __future__ import annotations


def import_all() -> None:
    import app.admin.models
    import app.approvals.models
    import app.audit.models
    import app.auth.models
    import app.campaigns.activity_models
    import app.campaigns.models
    import app.campaigns.promotion_models
    import app.cards.models
    import app.ledger.models
    import app.ledger.redemption.models
    import app.ledger.rules.models
    import app.members.models
    import app.messaging.models
    import app.optout.models
    import app.stores.models
    import app.texts.models
    import app.wechat.models  # noqa: F401
