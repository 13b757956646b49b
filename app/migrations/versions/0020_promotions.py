"""promotions: promotions and their uses at checkout

Revision ID: 0020_promotions
Revises: 0019_activities
Create Date: 2026-12-07 11:40:00.000000
"""

from alembic import op
import sqlalchemy as sa
import app.db


revision = '0020_promotions'
down_revision = '0019_activities'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('promotion',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name_zh_hans', sa.String(length=120), nullable=True),
    sa.Column('name_zh_hant', sa.String(length=120), nullable=True),
    sa.Column('name_en', sa.String(length=120), nullable=True),
    sa.Column('starts_at', app.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('ends_at', app.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('ended_at', app.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('level_id', sa.Integer(), nullable=True),
    sa.Column('store_id', sa.Integer(), nullable=True),
    sa.Column('segment_id', sa.Integer(), nullable=True),
    sa.Column('min_spend_fen', sa.BigInteger(), nullable=False),
    sa.Column('category', sa.String(length=64), nullable=True),
    sa.Column('multiplier_bp', sa.Integer(), nullable=False),
    sa.Column('bonus_points', sa.BigInteger(), nullable=False),
    sa.Column('coupon_type', sa.String(length=32), nullable=True),
    sa.Column('created_at', app.db.UtcDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('bonus_points >= 0 AND bonus_points <= 100000', name=op.f('ck_promotion_bonus_range')),
    sa.CheckConstraint('ends_at > starts_at', name=op.f('ck_promotion_window')),
    sa.CheckConstraint('min_spend_fen >= 0', name=op.f('ck_promotion_min_spend_nonnegative')),
    sa.CheckConstraint('multiplier_bp > 10000 OR bonus_points > 0 OR coupon_type IS NOT NULL', name=op.f('ck_promotion_has_effect')),
    sa.CheckConstraint('multiplier_bp >= 10000 AND multiplier_bp <= 100000', name=op.f('ck_promotion_multiplier_range')),
    sa.ForeignKeyConstraint(['level_id'], ['level.id'], name=op.f('fk_promotion_level_id_level')),
    sa.ForeignKeyConstraint(['store_id'], ['store.id'], name=op.f('fk_promotion_store_id_store')),
    sa.ForeignKeyConstraint(['segment_id'], ['segment.id'], name=op.f('fk_promotion_segment_id_segment')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_promotion'))
    )
    op.create_index('ix_promotion_window', 'promotion', ['ends_at', 'starts_at'], unique=False)

    op.create_table('promotion_use',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('promotion_id', sa.Integer(), nullable=False),
    sa.Column('transaction_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('points', sa.BigInteger(), nullable=False),
    sa.Column('coupon_code', sa.String(length=24), nullable=True),
    sa.Column('applied_at', app.db.UtcDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('points >= 0', name=op.f('ck_promotion_use_points_nonnegative')),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], name=op.f('fk_promotion_use_member_id_member')),
    sa.ForeignKeyConstraint(['promotion_id'], ['promotion.id'], name=op.f('fk_promotion_use_promotion_id_promotion')),
    sa.ForeignKeyConstraint(['transaction_id'], ['ledger_transaction.id'], name=op.f('fk_promotion_use_transaction_id_ledger_transaction')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_promotion_use')),
    sa.UniqueConstraint('promotion_id', 'transaction_id', name=op.f('uq_promotion_use_promotion_id_transaction_id'))
    )
    op.create_index('ix_promotion_use_member_id', 'promotion_use', ['member_id'], unique=False)
    op.create_index('ix_promotion_use_promotion_member', 'promotion_use', ['promotion_id', 'member_id'], unique=False)
    op.create_index('ix_promotion_use_transaction_id', 'promotion_use', ['transaction_id'], unique=False)



def downgrade() -> None:
    op.drop_index('ix_promotion_use_transaction_id', table_name='promotion_use')
    op.drop_index('ix_promotion_use_promotion_member', table_name='promotion_use')
    op.drop_index('ix_promotion_use_member_id', table_name='promotion_use')
    op.drop_table('promotion_use')
    op.drop_index('ix_promotion_window', table_name='promotion')
    op.drop_table('promotion')
