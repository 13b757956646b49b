"""activities: club activities, sign-ups, win-back messages

Revision ID: 0019_activities
Revises: 0018_votes_draws
Create Date: 2026-12-07 11:20:00.000000

The lead re-chains it after the other 0016-0018 migrations.
"""

from alembic import op
import sqlalchemy as sa
import app.db


revision = '0019_activities'
down_revision = '0018_votes_draws'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('activity',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=16), nullable=False),
    sa.Column('title_zh_hans', sa.String(length=200), nullable=False),
    sa.Column('title_zh_hant', sa.String(length=200), nullable=False),
    sa.Column('title_en', sa.String(length=200), nullable=False),
    sa.Column('place', sa.String(length=200), nullable=False),
    sa.Column('starts_at', app.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('ends_at', app.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('min_level_rank', sa.Integer(), nullable=True),
    sa.Column('points', sa.BigInteger(), nullable=False),
    sa.Column('created_at', app.db.UtcDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('capacity > 0', name=op.f('ck_activity_capacity_positive')),
    sa.CheckConstraint('ends_at > starts_at', name=op.f('ck_activity_ends_after_start')),
    sa.CheckConstraint('points >= 0', name=op.f('ck_activity_points_nonnegative')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_activity')),
    sa.UniqueConstraint('code', name=op.f('uq_activity_code'))
    )
    op.create_table('activity_signup',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('activity_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('checkin_code', sa.String(length=8), nullable=False),
    sa.Column('queued_at', app.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('signed_up_at', app.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('cancelled_at', app.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('checked_in_at', app.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('points_transaction_id', sa.Integer(), nullable=True),
    sa.Column('rating_requested_at', app.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('rating', sa.Integer(), nullable=True),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('rated_at', app.db.UtcDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('confirmed', 'waiting', 'cancelled')", name=op.f('ck_activity_signup_status')),
    sa.CheckConstraint('rating IS NULL OR (rating >= 1 AND rating <= 5)', name=op.f('ck_activity_signup_rating_range')),
    sa.ForeignKeyConstraint(['activity_id'], ['activity.id'], name=op.f('fk_activity_signup_activity_id_activity')),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], name=op.f('fk_activity_signup_member_id_member')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_activity_signup')),
    sa.UniqueConstraint('activity_id', 'checkin_code', name=op.f('uq_activity_signup_activity_id_checkin_code')),
    sa.UniqueConstraint('activity_id', 'member_id', name=op.f('uq_activity_signup_activity_id_member_id'))
    )
    with op.batch_alter_table('activity_signup', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_activity_signup_member_id'), ['member_id'], unique=False)
        batch_op.create_index('ix_activity_signup_queue', ['activity_id', 'status', 'queued_at'], unique=False)

    op.create_table('winback_message',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('sent_on', sa.Date(), nullable=False),
    sa.Column('run_key', sa.String(length=120), nullable=False),
    sa.Column('created_at', app.db.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], name=op.f('fk_winback_message_member_id_member')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_winback_message')),
    sa.UniqueConstraint('member_id', 'sent_on', name=op.f('uq_winback_message_member_id_sent_on'))
    )



def downgrade() -> None:
    op.drop_table('winback_message')
    with op.batch_alter_table('activity_signup', schema=None) as batch_op:
        batch_op.drop_index('ix_activity_signup_queue')
        batch_op.drop_index(batch_op.f('ix_activity_signup_member_id'))

    op.drop_table('activity_signup')
    op.drop_table('activity')
