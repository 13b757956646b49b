"""64-bit money, points and growth columns; room for a 200-character Idempotency-Key

Columns that hold or sum money, points or growth become BIGINT: a member whose
growth passed 2^31 could no longer check out. A journal key is a caller's
Idempotency-Key (up to 200 characters) plus its store scope (``api:7:``), so
it gets 255.

On SQLite a column's type changes by rebuilding its table (batch mode). The
rebuild drops the table's triggers, so ledger_transaction's is made again from
a frozen copy (``env.py`` checks foreign keys once every table is back).

Revision ID: 0005_wide_integers
Revises: 0004_inbound_sender_index
Create Date: 2026-12-07 05:40:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0005_wide_integers'
down_revision = '0004_inbound_sender_index'
branch_labels = None
depends_on = None

#: (table, column, nullable) of every widened integer column.
WIDENED = [
    ('card', 'credit_limit_fen', False),
    ('level', 'upgrade_threshold', False),
    ('draw', 'points_cost', False),
    ('draw_entry', 'points_paid', False),
    ('gift', 'points_cost', False),
    ('coupon_type', 'value_fen', False),
    ('coupon_type', 'min_spend_fen', False),
    ('coupon_type', 'points_cost', False),
    ('redemption', 'points_spent', False),
    ('program_rules', 'signup_points', False),
    ('program_rules', 'referral_points', False),
    ('recharge_plan', 'min_amount_fen', False),
    ('recharge_plan', 'bonus_fen', False),
    ('level_rule', 'keep_threshold', False),
    ('member_growth', 'growth', False),
    ('growth_entry', 'delta', False),
    ('level_change', 'growth', False),
]

# Frozen as of this revision (0002_ledger made it first).
SQLITE_TRANSACTION_TRIGGER = (
    "CREATE TRIGGER ledger_transaction_no_update BEFORE UPDATE ON ledger_transaction\n"
    "BEGIN SELECT RAISE(ABORT, 'ledger_transaction is append-only'); END"
)


def _change(widen: bool) -> None:
    bind = op.get_bind()
    sqlite = bind.dialect.name == 'sqlite'
    old, new = (sa.Integer(), sa.BigInteger()) if widen else (sa.BigInteger(), sa.Integer())
    tables: dict[str, list[tuple[str, bool]]] = {}
    for table, column, nullable in WIDENED:
        tables.setdefault(table, []).append((column, nullable))
    for table, columns in tables.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column, nullable in columns:
                batch_op.alter_column(
                    column, existing_type=old, type_=new, existing_nullable=nullable
                )
    key_old, key_new = (200, 255) if widen else (255, 200)
    if sqlite:
        bind.exec_driver_sql('DROP TRIGGER IF EXISTS ledger_transaction_no_update')
    with op.batch_alter_table('ledger_transaction', schema=None) as batch_op:
        batch_op.alter_column(
            'idempotency_key',
            existing_type=sa.String(length=key_old),
            type_=sa.String(length=key_new),
            existing_nullable=False,
        )
    if sqlite:
        bind.exec_driver_sql('DROP TRIGGER IF EXISTS ledger_transaction_no_update')
        bind.exec_driver_sql(SQLITE_TRANSACTION_TRIGGER)


def upgrade() -> None:
    _change(widen=True)


def downgrade() -> None:
    _change(widen=False)
