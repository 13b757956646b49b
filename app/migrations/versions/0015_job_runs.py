"""job runs: the scheduler's record of every attempt to run a job

Revision ID: 0015_job_runs
Revises: 0014_report_indexes
Create Date: 2026-12-07 11:00:00.000000
"""

from alembic import op
import sqlalchemy as sa
import app.db


revision = '0015_job_runs'
down_revision = '0014_report_indexes'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('job_run',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job', sa.String(length=48), nullable=False),
    sa.Column('scheduled_for', app.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('run_key', sa.String(length=120), nullable=True),
    sa.Column('trigger', sa.String(length=16), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('started_at', app.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', app.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('counts', sa.JSON(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('host', sa.String(length=120), nullable=False),
    sa.CheckConstraint("outcome IN ('ok', 'failed', 'skipped')", name=op.f('ck_job_run_outcome')),
    sa.CheckConstraint("trigger IN ('schedule', 'cli', 'panel')", name=op.f('ck_job_run_trigger')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job_run')),
    sa.UniqueConstraint('run_key', name=op.f('uq_job_run_run_key'))
    )
    op.create_index('ix_job_run_job_started_at', 'job_run', ['job', 'started_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_job_run_job_started_at', table_name='job_run')
    op.drop_table('job_run')
