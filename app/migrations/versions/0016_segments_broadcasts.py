"""segments, broadcasts and the birthday index

Saved segments, broadcasts with their recipients' snapshot; the outbox's priority (alerts
before broadcast traffic) and broadcast id; the index the day's birthdays are found by;
the rules' birthday points.

Revision ID: 0016_segments_broadcasts
Revises: 0015_job_runs
Create Date: 2026-12-07 10:36:17.469797
"""

from alembic import op
import sqlalchemy as sa
import app.db


revision = '0016_segments_broadcasts'
down_revision = '0015_job_runs'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('segment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('definition', sa.JSON(), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', app.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.db.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_segment')),
    sa.UniqueConstraint('name', name=op.f('uq_segment_name'))
    )
    op.create_table('broadcast',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('segment_id', sa.Integer(), nullable=True),
    sa.Column('definition', sa.JSON(), nullable=False),
    sa.Column('channels', sa.String(length=16), nullable=False),
    sa.Column('texts', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('send_at', app.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', app.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('queued_at', app.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('cancelled_at', app.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('targeted', sa.BigInteger(), nullable=False),
    sa.Column('skipped', sa.BigInteger(), nullable=False),
    sa.Column('queued', sa.BigInteger(), nullable=False),
    sa.CheckConstraint("channels IN ('sms', 'wechat', 'wechat_or_sms')", name=op.f('ck_broadcast_channels')),
    sa.CheckConstraint("status IN ('scheduled', 'queuing', 'queued', 'cancelled')", name=op.f('ck_broadcast_status')),
    sa.ForeignKeyConstraint(['segment_id'], ['segment.id'], name=op.f('fk_broadcast_segment_id_segment')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_broadcast'))
    )
    with op.batch_alter_table('broadcast', schema=None) as batch_op:
        batch_op.create_index('ix_broadcast_due', ['status', 'send_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_broadcast_segment_id'), ['segment_id'], unique=False)

    op.create_table('broadcast_recipient',
    sa.Column('broadcast_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=8), nullable=False),
    sa.Column('address', sa.String(length=128), nullable=False),
    sa.Column('skipped', sa.String(length=16), nullable=True),
    sa.CheckConstraint("skipped IS NULL OR skipped IN ('opted_out', 'no_wechat')", name=op.f('ck_broadcast_recipient_skipped')),
    sa.ForeignKeyConstraint(['broadcast_id'], ['broadcast.id'], name=op.f('fk_broadcast_recipient_broadcast_id_broadcast')),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], name=op.f('fk_broadcast_recipient_member_id_member')),
    sa.PrimaryKeyConstraint('broadcast_id', 'member_id', 'channel', name=op.f('pk_broadcast_recipient'))
    )
    with op.batch_alter_table('member', schema=None) as batch_op:
        batch_op.create_index('ix_member_birthday', ['birthday_calendar', 'birthday_month', 'birthday_day'], unique=False)

    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('priority', sa.SmallInteger(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('broadcast_id', sa.Integer(), nullable=True))
        batch_op.drop_index(batch_op.f('ix_outbox_message_due'))
        batch_op.create_index('ix_outbox_message_due', ['status', 'priority', 'next_attempt_at'], unique=False)
        batch_op.create_index('ix_outbox_message_broadcast', ['broadcast_id', 'status'], unique=False, postgresql_where=sa.text('broadcast_id IS NOT NULL'), sqlite_where=sa.text('broadcast_id IS NOT NULL'))

    with op.batch_alter_table('program_rules', schema=None) as batch_op:
        batch_op.add_column(sa.Column('birthday_points', sa.BigInteger(), server_default='0', nullable=False))



def downgrade() -> None:
    with op.batch_alter_table('program_rules', schema=None) as batch_op:
        batch_op.drop_column('birthday_points')

    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_message_broadcast', postgresql_where=sa.text('broadcast_id IS NOT NULL'), sqlite_where=sa.text('broadcast_id IS NOT NULL'))
        batch_op.drop_index('ix_outbox_message_due')
        batch_op.create_index(batch_op.f('ix_outbox_message_due'), ['status', 'next_attempt_at'], unique=False)
        batch_op.drop_column('broadcast_id')
        batch_op.drop_column('priority')

    with op.batch_alter_table('member', schema=None) as batch_op:
        batch_op.drop_index('ix_member_birthday')

    op.drop_table('broadcast_recipient')
    with op.batch_alter_table('broadcast', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_broadcast_segment_id'))
        batch_op.drop_index('ix_broadcast_due')

    op.drop_table('broadcast')
    op.drop_table('segment')
