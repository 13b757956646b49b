"""message templates: the shop's own wording of members' texts, per language

Revision ID: 0012_message_templates
Revises: 0011_members_room
Create Date: 2026-12-07 09:30:00.000000
"""

from alembic import op
import sqlalchemy as sa
import app.db


revision = '0012_message_templates'
down_revision = '0011_members_room'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('message_text',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('msgid_key', sa.String(length=16), nullable=False),
    sa.Column('msgid', sa.Text(), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('updated_at', app.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_by', sa.String(length=120), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_message_text')),
    sa.UniqueConstraint('msgid_key', 'language', name=op.f('uq_message_text_msgid_key_language'))
    )


def downgrade() -> None:
    op.drop_table('message_text')
