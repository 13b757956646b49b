"""inbound_message: drop the index on sender

No query reads inbound messages by sender, and every inbound SMS wrote an
entry to it: one index fewer on the webhook's only write.

Revision ID: 0004_inbound_sender_index
Revises: 0003_messaging
Create Date: 2026-12-04 15:40:00.000000
"""

from alembic import op


revision = '0004_inbound_sender_index'
down_revision = '0003_messaging'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('inbound_message', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inbound_message_sender'))


def downgrade() -> None:
    with op.batch_alter_table('inbound_message', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inbound_message_sender'), ['sender'], unique=False)
