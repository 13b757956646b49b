"""product and service categories

The programme's optional list of product and service categories (美容类, 健身类, 酒水…),
edited with the rest of the rules in the admin panel's rules room.

Revision ID: 0010_rules_room
Revises: 0009_staff_audit
Create Date: 2026-12-07 09:10:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0010_rules_room'
down_revision = '0009_staff_audit'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('product_category',
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('name_zh_hans', sa.String(length=64), nullable=True),
    sa.Column('name_zh_hant', sa.String(length=64), nullable=True),
    sa.Column('name_en', sa.String(length=64), nullable=True),
    sa.CheckConstraint("kind IN ('product', 'service')", name=op.f('ck_product_category_kind')),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_product_category'))
    )


def downgrade() -> None:
    op.drop_table('product_category')
