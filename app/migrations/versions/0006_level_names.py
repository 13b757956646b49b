"""level: a name per language (name_zh_hans, name_zh_hant, name_en)

An English member read "Your points: 100 (普通会员)": a level had one name. Each
language's name is optional and falls back to the one name.

Revision ID: 0006_level_names
Revises: 0005_wide_integers
Create Date: 2026-12-07 05:30:00.000000
"""

import sqlalchemy as sa
from alembic import op


revision = '0006_level_names'
down_revision = '0005_wide_integers'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('level', schema=None) as batch_op:
        batch_op.add_column(sa.Column('name_zh_hans', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('name_zh_hant', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('name_en', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('level', schema=None) as batch_op:
        batch_op.drop_column('name_en')
        batch_op.drop_column('name_zh_hant')
        batch_op.drop_column('name_zh_hans')
