"""the panel's one-time form keys

A card action, a batch issue or an import sent twice (a double click, a reload) acts
once: each acting form carries a key claimed by its first request.

Revision ID: 0011_members_room
Revises: 0010_rules_room
Create Date: 2026-12-07 09:10:00.000000
"""

from alembic import op
import sqlalchemy as sa
import app.db


revision = '0011_members_room'
down_revision = '0010_rules_room'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('admin_form_key',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('staff_username', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('outcome', sa.JSON(), nullable=True),
    sa.Column('created_at', app.db.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_admin_form_key'))
    )


def downgrade() -> None:
    op.drop_table('admin_form_key')
