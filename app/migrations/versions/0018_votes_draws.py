"""votes and draws: schedules, eligibility, prizes, committed seeds, winners

Votes and draws gain open and close times, a ``scheduled`` and a ``cancelled`` status
(the status CHECK is rebuilt), a level and segment eligibility; ``opened_at`` is empty
while scheduled. A draw keeps its seed, the seed's SHA-256 and the entry list's digest;
``draw_prize`` lists its prizes, ``draw_winner`` the winning entries in the order drawn.

Revision ID: 0018_votes_draws
Revises: 0016_segments_broadcasts
Create Date: 2026-12-07 11:21:27.419196
"""

from alembic import op
import sqlalchemy as sa
import app.db


revision = '0018_votes_draws'
down_revision = '0016_segments_broadcasts'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('draw_prize',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('draw_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('winners', sa.Integer(), nullable=False),
    sa.CheckConstraint('winners >= 1', name=op.f('ck_draw_prize_winners_positive')),
    sa.ForeignKeyConstraint(['draw_id'], ['draw.id'], name=op.f('fk_draw_prize_draw_id_draw')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_draw_prize')),
    sa.UniqueConstraint('draw_id', 'position', name=op.f('uq_draw_prize_draw_id_position'))
    )
    op.create_table('draw_winner',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('draw_id', sa.Integer(), nullable=False),
    sa.Column('pick', sa.Integer(), nullable=False),
    sa.Column('prize_id', sa.Integer(), nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['draw_id'], ['draw.id'], name=op.f('fk_draw_winner_draw_id_draw')),
    sa.ForeignKeyConstraint(['entry_id'], ['draw_entry.id'], name=op.f('fk_draw_winner_entry_id_draw_entry')),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], name=op.f('fk_draw_winner_member_id_member')),
    sa.ForeignKeyConstraint(['prize_id'], ['draw_prize.id'], name=op.f('fk_draw_winner_prize_id_draw_prize')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_draw_winner')),
    sa.UniqueConstraint('draw_id', 'entry_id', name=op.f('uq_draw_winner_draw_id_entry_id')),
    sa.UniqueConstraint('draw_id', 'pick', name=op.f('uq_draw_winner_draw_id_pick'))
    )
    with op.batch_alter_table('draw_winner', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_draw_winner_member_id'), ['member_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_draw_winner_prize_id'), ['prize_id'], unique=False)

    with op.batch_alter_table('draw', schema=None) as batch_op:
        batch_op.add_column(sa.Column('segment_key', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('opens_at', app.db.UtcDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('closes_at', app.db.UtcDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('seed', sa.LargeBinary(length=32), nullable=True))
        batch_op.add_column(sa.Column('seed_sha256', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('entries_sha256', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('cancelled_at', app.db.UtcDateTime(timezone=True), nullable=True))
        batch_op.alter_column('status',
               existing_type=sa.VARCHAR(length=8),
               type_=sa.String(length=16),
               existing_nullable=False)
        batch_op.alter_column('opened_at',
               existing_type=app.db.UtcDateTime(timezone=True),
               nullable=True)
        batch_op.create_index('ix_draw_status', ['status'], unique=False)
        batch_op.drop_constraint(batch_op.f('ck_draw_status'), type_='check')
        batch_op.create_check_constraint(
            'status', "status IN ('scheduled', 'open', 'closed', 'cancelled')"
        )

    with op.batch_alter_table('draw_entry', schema=None) as batch_op:
        batch_op.add_column(sa.Column('refund_transaction_id', sa.Integer(), nullable=True))

    with op.batch_alter_table('vote', schema=None) as batch_op:
        batch_op.add_column(sa.Column('opens_at', app.db.UtcDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('closes_at', app.db.UtcDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('min_level_rank', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('segment_key', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('cancelled_at', app.db.UtcDateTime(timezone=True), nullable=True))
        batch_op.alter_column('status',
               existing_type=sa.VARCHAR(length=8),
               type_=sa.String(length=16),
               existing_nullable=False)
        batch_op.alter_column('opened_at',
               existing_type=app.db.UtcDateTime(timezone=True),
               nullable=True)
        batch_op.create_index('ix_vote_status', ['status'], unique=False)
        batch_op.drop_constraint(batch_op.f('ck_vote_status'), type_='check')
        batch_op.create_check_constraint(
            'status', "status IN ('scheduled', 'open', 'closed', 'cancelled')"
        )



def downgrade() -> None:
    # A scheduled or cancelled campaign has no place in the older schema.
    op.execute("UPDATE vote SET status = 'closed', opened_at = COALESCE(opened_at, closes_at, CURRENT_TIMESTAMP) WHERE status IN ('scheduled', 'cancelled') OR opened_at IS NULL")
    op.execute("UPDATE draw SET status = 'closed', opened_at = COALESCE(opened_at, closes_at, CURRENT_TIMESTAMP) WHERE status IN ('scheduled', 'cancelled') OR opened_at IS NULL")
    with op.batch_alter_table('vote', schema=None) as batch_op:
        batch_op.drop_index('ix_vote_status')
        batch_op.drop_constraint(batch_op.f('ck_vote_status'), type_='check')
        batch_op.create_check_constraint('status', "status IN ('open', 'closed')")
        batch_op.alter_column('opened_at',
               existing_type=app.db.UtcDateTime(timezone=True),
               nullable=False)
        batch_op.alter_column('status',
               existing_type=sa.String(length=16),
               type_=sa.VARCHAR(length=8),
               existing_nullable=False)
        batch_op.drop_column('cancelled_at')
        batch_op.drop_column('segment_key')
        batch_op.drop_column('min_level_rank')
        batch_op.drop_column('closes_at')
        batch_op.drop_column('opens_at')

    with op.batch_alter_table('draw_entry', schema=None) as batch_op:
        batch_op.drop_column('refund_transaction_id')

    with op.batch_alter_table('draw', schema=None) as batch_op:
        batch_op.drop_index('ix_draw_status')
        batch_op.drop_constraint(batch_op.f('ck_draw_status'), type_='check')
        batch_op.create_check_constraint('status', "status IN ('open', 'closed')")
        batch_op.alter_column('opened_at',
               existing_type=app.db.UtcDateTime(timezone=True),
               nullable=False)
        batch_op.alter_column('status',
               existing_type=sa.String(length=16),
               type_=sa.VARCHAR(length=8),
               existing_nullable=False)
        batch_op.drop_column('cancelled_at')
        batch_op.drop_column('entries_sha256')
        batch_op.drop_column('seed_sha256')
        batch_op.drop_column('seed')
        batch_op.drop_column('closes_at')
        batch_op.drop_column('opens_at')
        batch_op.drop_column('segment_key')

    with op.batch_alter_table('draw_winner', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_draw_winner_prize_id'))
        batch_op.drop_index(batch_op.f('ix_draw_winner_member_id'))

    op.drop_table('draw_winner')
    op.drop_table('draw_prize')
