"""report indexes: the journal, redemptions and members by time

The reports read a range of days: ``ledger_transaction`` by ``created_at`` (with ``id``,
for the newest-first page and the first and last transaction of a range),
``redemption`` and ``member`` (``joined_at``) likewise. Without them a one-month report
reads the whole journal.

Revision ID: 0014_report_indexes
Revises: 0013_overdraft_quiet_hours
Create Date: 2026-12-07 11:00:00.000000
"""

from alembic import op


revision = '0014_report_indexes'
down_revision = '0013_overdraft_quiet_hours'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain CREATE INDEX, never batch mode: a batch rebuild of the journal's tables on
    # SQLite would drop their triggers.
    op.create_index(
        'ix_ledger_transaction_created_at_id', 'ledger_transaction', ['created_at', 'id']
    )
    op.create_index('ix_redemption_created_at', 'redemption', ['created_at'])
    op.create_index('ix_member_joined_at', 'member', ['joined_at'])


def downgrade() -> None:
    op.drop_index('ix_member_joined_at', table_name='member')
    op.drop_index('ix_redemption_created_at', table_name='redemption')
    op.drop_index('ix_ledger_transaction_created_at_id', table_name='ledger_transaction')
