"""report indexes: a month of the journal, and of new members, without reading them all

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
    with op.batch_alter_table('ledger_transaction', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ledger_transaction_created_at'), ['created_at'], unique=False)
    with op.batch_alter_table('member', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_member_joined_at'), ['joined_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('member', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_member_joined_at'))
    with op.batch_alter_table('ledger_transaction', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ledger_transaction_created_at'))
