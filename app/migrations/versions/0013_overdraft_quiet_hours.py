"""overdraft limits per card type as a rule; quiet hours saved by the programme

``overdraft_limit`` holds the rules' overdraft per card type (only stored value above
0). ``card.credit_limit_fen`` becomes nullable: NULL follows that rule, a number is the
card's own. Cards at 0 had no overdraft of their own (0 was the default, and no rule
existed), so they become NULL and follow the rule from now on; a card with a limit above
0 keeps it. ``quiet_hours_setting`` is the one row of quiet hours saved in the panel (no
row: the service's QUIET_HOURS_* settings).

Revision ID: 0013_overdraft_quiet_hours
Revises: 0012_message_templates
Create Date: 2026-12-07 10:45:00.000000
"""

from alembic import op
import sqlalchemy as sa
import app.db


revision = '0013_overdraft_quiet_hours'
down_revision = '0012_message_templates'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('overdraft_limit',
    sa.Column('card_type', sa.String(length=16), nullable=False),
    sa.Column('credit_limit_fen', sa.BigInteger(), nullable=False),
    sa.CheckConstraint('credit_limit_fen >= 0', name=op.f('ck_overdraft_limit_credit_limit_nonnegative')),
    sa.CheckConstraint("card_type = 'stored_value' OR credit_limit_fen = 0", name=op.f('ck_overdraft_limit_stored_value_only')),
    sa.PrimaryKeyConstraint('card_type', name=op.f('pk_overdraft_limit'))
    )
    op.create_table('quiet_hours_setting',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('start_hhmm', sa.String(length=5), nullable=True),
    sa.Column('end_hhmm', sa.String(length=5), nullable=True),
    sa.Column('changed_at', app.db.UtcDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('(start_hhmm IS NULL) = (end_hhmm IS NULL)', name=op.f('ck_quiet_hours_setting_both_or_neither')),
    sa.CheckConstraint('id = 1', name=op.f('ck_quiet_hours_setting_one_row')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_quiet_hours_setting'))
    )
    with op.batch_alter_table('card', schema=None) as batch_op:
        batch_op.alter_column(
            'credit_limit_fen', existing_type=sa.BigInteger(), nullable=True
        )
    op.execute("UPDATE card SET credit_limit_fen = NULL WHERE credit_limit_fen = 0")


def downgrade() -> None:
    # A card that followed the rule keeps the limit in force then as its own.
    op.execute(
        "UPDATE card SET credit_limit_fen = COALESCE((SELECT o.credit_limit_fen FROM "
        "overdraft_limit o WHERE o.card_type = card.type), 0) WHERE credit_limit_fen IS NULL"
    )
    with op.batch_alter_table('card', schema=None) as batch_op:
        batch_op.alter_column(
            'credit_limit_fen', existing_type=sa.BigInteger(), nullable=False
        )
    op.drop_table('quiet_hours_setting')
    op.drop_table('overdraft_limit')
