"""question labels: a questionnaire question in each staff language

Revision ID: 0021_question_labels
Revises: 0020_promotions
Create Date: 2026-12-07 17:00:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0021_question_labels'
down_revision = '0020_promotions'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('question') as batch_op:
        batch_op.add_column(sa.Column('label_zh_hans', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('label_zh_hant', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('label_en', sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('question') as batch_op:
        batch_op.drop_column('label_en')
        batch_op.drop_column('label_zh_hant')
        batch_op.drop_column('label_zh_hans')
