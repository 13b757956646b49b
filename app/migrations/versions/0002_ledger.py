"""ledger: journal, lots, idempotency, rules, levels, redemption

Revision ID: 0002_ledger
Revises: 0001_foundation
Create Date: 2026-11-22 08:52:43.871714
"""

from alembic import op
import sqlalchemy as sa
import app.db


revision = '0002_ledger'
down_revision = '0001_foundation'
branch_labels = None
depends_on = None

# The journal's invariants as the database enforces them, frozen as of this revision
# (app/ledger/ddl.py holds the live copy that create_all uses in tests). PostgreSQL's
# SQL runs on the driver cursor unparameterised: plpgsql's "%" is not a placeholder.
PG_ZERO_SUM = "\nCREATE OR REPLACE FUNCTION ledger_check_zero_sum() RETURNS trigger\nLANGUAGE plpgsql AS $$\nDECLARE\n    bad record;\nBEGIN\n    SELECT asset, sum(amount) AS total INTO bad\n      FROM ledger_line\n     WHERE transaction_id = NEW.transaction_id\n     GROUP BY asset\n    HAVING sum(amount) <> 0\n     LIMIT 1;\n    IF FOUND THEN\n        RAISE EXCEPTION 'ledger transaction % does not balance: % sums to %',\n            NEW.transaction_id, bad.asset, bad.total\n            USING ERRCODE = 'check_violation';\n    END IF;\n    RETURN NULL;\nEND\n$$;\nCREATE CONSTRAINT TRIGGER ledger_line_zero_sum\n    AFTER INSERT ON ledger_line\n    DEFERRABLE INITIALLY DEFERRED\n    FOR EACH ROW EXECUTE FUNCTION ledger_check_zero_sum();\n"

PG_APPEND_ONLY = "\nCREATE OR REPLACE FUNCTION ledger_forbid_update() RETURNS trigger\nLANGUAGE plpgsql AS $$\nBEGIN\n    RAISE EXCEPTION '% is append-only: post a correcting transaction instead', TG_TABLE_NAME\n        USING ERRCODE = 'restrict_violation';\nEND\n$$;\nCREATE OR REPLACE FUNCTION ledger_forbid_partial_delete() RETURNS trigger\nLANGUAGE plpgsql AS $$\nBEGIN\n    EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I)', TG_TABLE_NAME) INTO STRICT FOUND;\n    IF FOUND THEN\n        RAISE EXCEPTION '% is append-only: rows cannot be deleted', TG_TABLE_NAME\n            USING ERRCODE = 'restrict_violation';\n    END IF;\n    RETURN NULL;\nEND\n$$;\nCREATE TRIGGER ledger_line_no_update BEFORE UPDATE ON ledger_line\n    FOR EACH ROW EXECUTE FUNCTION ledger_forbid_update();\nCREATE TRIGGER ledger_line_no_delete AFTER DELETE ON ledger_line\n    FOR EACH STATEMENT EXECUTE FUNCTION ledger_forbid_partial_delete();\nCREATE TRIGGER points_lot_use_no_update BEFORE UPDATE ON points_lot_use\n    FOR EACH ROW EXECUTE FUNCTION ledger_forbid_update();\nCREATE TRIGGER points_lot_use_no_delete AFTER DELETE ON points_lot_use\n    FOR EACH STATEMENT EXECUTE FUNCTION ledger_forbid_partial_delete();\nCREATE TRIGGER ledger_transaction_no_update BEFORE UPDATE ON ledger_transaction\n    FOR EACH ROW EXECUTE FUNCTION ledger_forbid_update();\nCREATE TRIGGER ledger_transaction_no_delete AFTER DELETE ON ledger_transaction\n    FOR EACH STATEMENT EXECUTE FUNCTION ledger_forbid_partial_delete();\n"

PG_KEEP_SYSTEM_ACCOUNTS = '\nCREATE OR REPLACE FUNCTION ledger_keep_system_accounts() RETURNS trigger\nLANGUAGE plpgsql AS $$\nBEGIN\n    IF OLD.code IS NOT NULL THEN\n        RETURN NULL;\n    END IF;\n    RETURN OLD;\nEND\n$$;\nCREATE TRIGGER ledger_account_keep_system BEFORE DELETE ON ledger_account\n    FOR EACH ROW EXECUTE FUNCTION ledger_keep_system_accounts();\n'

SQLITE_TRIGGERS = ["CREATE TRIGGER ledger_line_no_update BEFORE UPDATE ON ledger_line\nBEGIN SELECT RAISE(ABORT, 'ledger_line is append-only'); END", "CREATE TRIGGER points_lot_use_no_update BEFORE UPDATE ON points_lot_use\nBEGIN SELECT RAISE(ABORT, 'points_lot_use is append-only'); END", "CREATE TRIGGER ledger_transaction_no_update BEFORE UPDATE ON ledger_transaction\nBEGIN SELECT RAISE(ABORT, 'ledger_transaction is append-only'); END", 'CREATE TRIGGER ledger_account_keep_system\nBEFORE DELETE ON ledger_account WHEN OLD.code IS NOT NULL\nBEGIN SELECT RAISE(IGNORE); END']

SEED_SYSTEM_ACCOUNTS = "INSERT INTO ledger_account (id, code, asset, balance) VALUES (-1, 'issued', 'points', 0), (-2, 'issued', 'stored_value_paid', 0), (-3, 'issued', 'stored_value_bonus', 0), (-4, 'issued', 'visits', 0), (-5, 'issued', 'growth', 0), (-6, 'spent', 'points', 0), (-7, 'spent', 'stored_value_paid', 0), (-8, 'spent', 'stored_value_bonus', 0), (-9, 'spent', 'visits', 0), (-10, 'spent', 'growth', 0), (-11, 'breakage', 'points', 0), (-12, 'breakage', 'stored_value_paid', 0), (-13, 'breakage', 'stored_value_bonus', 0), (-14, 'breakage', 'visits', 0), (-15, 'breakage', 'growth', 0) ON CONFLICT DO NOTHING"

PG_DROP_FUNCTIONS = '\nDROP FUNCTION IF EXISTS ledger_check_zero_sum() CASCADE;\nDROP FUNCTION IF EXISTS ledger_forbid_update() CASCADE;\nDROP FUNCTION IF EXISTS ledger_forbid_partial_delete() CASCADE;\nDROP FUNCTION IF EXISTS ledger_keep_system_accounts() CASCADE;\n'


def _install_invariants() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        with bind.connection.dbapi_connection.cursor() as cursor:  # type: ignore[union-attr]
            for sql in (PG_ZERO_SUM, PG_APPEND_ONLY, PG_KEEP_SYSTEM_ACCOUNTS):
                cursor.execute(sql)
    else:
        for sql in SQLITE_TRIGGERS:
            bind.exec_driver_sql(sql)
    bind.exec_driver_sql(SEED_SYSTEM_ACCOUNTS)


def upgrade() -> None:
    # ### commands auto generated by Alembic - please adjust! ###
    op.create_table('card_discount',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('card_type', sa.String(length=16), nullable=False),
    sa.Column('discount_bp', sa.Integer(), nullable=False),
    sa.CheckConstraint('discount_bp > 0 AND discount_bp <= 10000', name=op.f('ck_card_discount_discount_range')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_card_discount')),
    sa.UniqueConstraint('card_type', name=op.f('uq_card_discount_card_type'))
    )
    op.create_table('coupon_type',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('value_fen', sa.Integer(), nullable=False),
    sa.Column('discount_bp', sa.Integer(), nullable=False),
    sa.Column('min_spend_fen', sa.Integer(), nullable=False),
    sa.Column('valid_days', sa.Integer(), nullable=False),
    sa.Column('points_cost', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.CheckConstraint("kind IN ('coupon', 'voucher')", name=op.f('ck_coupon_type_kind')),
    sa.CheckConstraint('discount_bp > 0 AND discount_bp <= 10000', name=op.f('ck_coupon_type_discount_range')),
    sa.CheckConstraint('points_cost >= 0', name=op.f('ck_coupon_type_cost_nonnegative')),
    sa.CheckConstraint('valid_days > 0', name=op.f('ck_coupon_type_valid_days_positive')),
    sa.CheckConstraint('value_fen >= 0 AND min_spend_fen >= 0', name=op.f('ck_coupon_type_money_nonnegative')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_coupon_type')),
    sa.UniqueConstraint('code', name=op.f('uq_coupon_type_code'))
    )
    op.create_table('earning_rule',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('multiplier_bp', sa.Integer(), nullable=False),
    sa.Column('store_code', sa.String(length=32), nullable=True),
    sa.Column('category', sa.String(length=64), nullable=True),
    sa.Column('weekdays', sa.JSON(), nullable=False),
    sa.Column('month_days', sa.JSON(), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=True),
    sa.Column('ends_on', sa.Date(), nullable=True),
    sa.CheckConstraint("kind IN ('store', 'category', 'period')", name=op.f('ck_earning_rule_kind')),
    sa.CheckConstraint('multiplier_bp >= 0', name=op.f('ck_earning_rule_multiplier_nonnegative')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_earning_rule'))
    )
    op.create_table('gift',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('points_cost', sa.Integer(), nullable=False),
    sa.Column('stock', sa.Integer(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.CheckConstraint('points_cost > 0', name=op.f('ck_gift_cost_positive')),
    sa.CheckConstraint('stock IS NULL OR stock >= 0', name=op.f('ck_gift_stock_nonnegative')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_gift')),
    sa.UniqueConstraint('code', name=op.f('uq_gift_code'))
    )
    op.create_table('program_rules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('revision', sa.String(length=32), nullable=False),
    sa.Column('points_per_yuan_bp', sa.Integer(), nullable=False),
    sa.Column('multiplier_combination', sa.String(length=12), nullable=False),
    sa.Column('birthday_multiplier_bp', sa.Integer(), nullable=False),
    sa.Column('points_excluded_categories', sa.JSON(), nullable=False),
    sa.Column('signup_points', sa.Integer(), nullable=False),
    sa.Column('referral_points', sa.Integer(), nullable=False),
    sa.Column('discount_stacking', sa.String(length=12), nullable=False),
    sa.Column('discount_excluded_categories', sa.JSON(), nullable=False),
    sa.Column('offset_points_per_yuan', sa.Integer(), nullable=False),
    sa.Column('max_offset_bp', sa.Integer(), nullable=False),
    sa.Column('expiry_mode', sa.String(length=20), nullable=False),
    sa.Column('expiry_months', sa.Integer(), nullable=True),
    sa.Column('growth_source', sa.String(length=8), nullable=False),
    sa.Column('growth_rate_bp', sa.Integer(), nullable=False),
    sa.Column('downgrade_enabled', sa.Boolean(), nullable=False),
    sa.Column('review_months', sa.Integer(), nullable=False),
    sa.Column('updated_at', app.db.UtcDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("discount_stacking IN ('best', 'multiply')", name=op.f('ck_program_rules_stacking')),
    sa.CheckConstraint("expiry_mode IN ('never', 'months', 'end_of_next_year')", name=op.f('ck_program_rules_expiry_mode')),
    sa.CheckConstraint("growth_source IN ('spend', 'points')", name=op.f('ck_program_rules_growth_source')),
    sa.CheckConstraint("multiplier_combination IN ('multiply', 'max')", name=op.f('ck_program_rules_combination')),
    sa.CheckConstraint('max_offset_bp >= 0 AND max_offset_bp <= 10000', name=op.f('ck_program_rules_max_offset')),
    sa.CheckConstraint('offset_points_per_yuan > 0', name=op.f('ck_program_rules_offset_rate_positive')),
    sa.CheckConstraint('points_per_yuan_bp >= 0', name=op.f('ck_program_rules_points_rate_nonnegative')),
    sa.CheckConstraint('signup_points >= 0 AND referral_points >= 0', name=op.f('ck_program_rules_gifts_nonnegative')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_program_rules'))
    )
    op.create_table('recharge_plan',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('min_amount_fen', sa.Integer(), nullable=False),
    sa.Column('bonus_fen', sa.Integer(), nullable=False),
    sa.Column('bonus_bp', sa.Integer(), nullable=False),
    sa.Column('repeat', sa.Boolean(), nullable=False),
    sa.Column('levels', sa.JSON(), nullable=False),
    sa.Column('card_types', sa.JSON(), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=True),
    sa.Column('ends_on', sa.Date(), nullable=True),
    sa.CheckConstraint('bonus_fen >= 0 AND bonus_bp >= 0', name=op.f('ck_recharge_plan_bonus_nonnegative')),
    sa.CheckConstraint('min_amount_fen > 0', name=op.f('ck_recharge_plan_min_amount_positive')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recharge_plan')),
    sa.UniqueConstraint('name', name=op.f('uq_recharge_plan_name'))
    )
    op.create_table('idempotency_record',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('status', sa.Integer(), nullable=True),
    sa.Column('body', sa.Text(), nullable=True),
    sa.Column('created_at', app.db.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['store_id'], ['store.id'], name=op.f('fk_idempotency_record_store_id_store')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_idempotency_record')),
    sa.UniqueConstraint('store_id', 'key', name=op.f('uq_idempotency_record_store_id_key'))
    )
    op.create_table('level_rule',
    sa.Column('level_id', sa.Integer(), nullable=False),
    sa.Column('keep_threshold', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['level_id'], ['level.id'], name=op.f('fk_level_rule_level_id_level')),
    sa.PrimaryKeyConstraint('level_id', name=op.f('pk_level_rule'))
    )
    op.create_table('coupon',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=24), nullable=False),
    sa.Column('coupon_type_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('issued_at', app.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('expires_on', sa.Date(), nullable=False),
    sa.Column('redeemed_at', app.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('redeemed_store_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("(state = 'redeemed') = (redeemed_at IS NOT NULL)", name=op.f('ck_coupon_redeemed_when')),
    sa.CheckConstraint("state IN ('issued', 'redeemed', 'void')", name=op.f('ck_coupon_state')),
    sa.ForeignKeyConstraint(['coupon_type_id'], ['coupon_type.id'], name=op.f('fk_coupon_coupon_type_id_coupon_type')),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], name=op.f('fk_coupon_member_id_member')),
    sa.ForeignKeyConstraint(['redeemed_store_id'], ['store.id'], name=op.f('fk_coupon_redeemed_store_id_store')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_coupon')),
    sa.UniqueConstraint('code', name=op.f('uq_coupon_code'))
    )
    with op.batch_alter_table('coupon', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_coupon_coupon_type_id'), ['coupon_type_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_coupon_member_id'), ['member_id'], unique=False)

    op.create_table('growth_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('delta', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=12), nullable=False),
    sa.Column('transaction_id', sa.Integer(), nullable=True),
    sa.Column('review_on', sa.Date(), nullable=True),
    sa.Column('at', app.db.UtcDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("reason IN ('earn', 'refund', 'downgrade', 'adjust')", name=op.f('ck_growth_entry_reason')),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], name=op.f('fk_growth_entry_member_id_member')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_growth_entry'))
    )
    with op.batch_alter_table('growth_entry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_growth_entry_member_id'), ['member_id'], unique=False)

    op.create_table('level_change',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('old_level_id', sa.Integer(), nullable=True),
    sa.Column('new_level_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.String(length=12), nullable=False),
    sa.Column('transaction_id', sa.Integer(), nullable=True),
    sa.Column('growth', sa.Integer(), nullable=False),
    sa.Column('review_on', sa.Date(), nullable=True),
    sa.Column('at', app.db.UtcDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("reason IN ('upgrade', 'downgrade', 'refund', 'manual')", name=op.f('ck_level_change_reason')),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], name=op.f('fk_level_change_member_id_member')),
    sa.ForeignKeyConstraint(['new_level_id'], ['level.id'], name=op.f('fk_level_change_new_level_id_level')),
    sa.ForeignKeyConstraint(['old_level_id'], ['level.id'], name=op.f('fk_level_change_old_level_id_level')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_level_change'))
    )
    with op.batch_alter_table('level_change', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_level_change_member_id'), ['member_id'], unique=False)

    op.create_table('member_growth',
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('growth', sa.Integer(), nullable=False),
    sa.CheckConstraint('growth >= 0', name=op.f('ck_member_growth_growth_nonnegative')),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], name=op.f('fk_member_growth_member_id_member')),
    sa.PrimaryKeyConstraint('member_id', name=op.f('pk_member_growth'))
    )
    op.create_table('ledger_account',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('card_id', sa.Integer(), nullable=True),
    sa.Column('code', sa.String(length=16), nullable=True),
    sa.Column('asset', sa.String(length=24), nullable=False),
    sa.Column('balance', sa.BigInteger(), nullable=False),
    sa.CheckConstraint("asset IN ('points', 'stored_value_paid', 'stored_value_bonus', 'visits', 'growth')", name=op.f('ck_ledger_account_asset')),
    sa.CheckConstraint("card_id IS NULL OR asset = 'stored_value_paid' OR balance >= 0", name=op.f('ck_ledger_account_card_balance_nonnegative')),
    sa.CheckConstraint('(card_id IS NULL) <> (code IS NULL)', name=op.f('ck_ledger_account_card_or_system')),
    sa.ForeignKeyConstraint(['card_id'], ['card.id'], name=op.f('fk_ledger_account_card_id_card')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_account')),
    sa.UniqueConstraint('card_id', 'asset', name=op.f('uq_ledger_account_card_id_asset')),
    sa.UniqueConstraint('code', 'asset', name=op.f('uq_ledger_account_code_asset')),
    sa.UniqueConstraint('id', 'asset', name='uq_ledger_account_id_asset')
    )
    op.create_table('ledger_transaction',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('reason', sa.String(length=64), nullable=True),
    sa.Column('idempotency_key', sa.String(length=200), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=True),
    sa.Column('station', sa.String(length=64), nullable=True),
    sa.Column('actor', sa.String(length=64), nullable=True),
    sa.Column('external_ref', sa.String(length=128), nullable=True),
    sa.Column('reverses_id', sa.Integer(), nullable=True),
    sa.Column('card_id', sa.Integer(), nullable=True),
    sa.Column('member_id', sa.Integer(), nullable=True),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('discount_fen', sa.BigInteger(), nullable=False),
    sa.Column('charged_fen', sa.BigInteger(), nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('created_at', app.db.UtcDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('amount_fen >= 0', name=op.f('ck_ledger_transaction_amount_nonnegative')),
    sa.CheckConstraint('charged_fen >= 0', name=op.f('ck_ledger_transaction_charged_nonnegative')),
    sa.CheckConstraint('discount_fen >= 0', name=op.f('ck_ledger_transaction_discount_nonnegative')),
    sa.ForeignKeyConstraint(['card_id'], ['card.id'], name=op.f('fk_ledger_transaction_card_id_card')),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], name=op.f('fk_ledger_transaction_member_id_member')),
    sa.ForeignKeyConstraint(['reverses_id'], ['ledger_transaction.id'], name=op.f('fk_ledger_transaction_reverses_id_ledger_transaction')),
    sa.ForeignKeyConstraint(['store_id'], ['store.id'], name=op.f('fk_ledger_transaction_store_id_store')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_transaction')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_ledger_transaction_idempotency_key'))
    )
    with op.batch_alter_table('ledger_transaction', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ledger_transaction_card_id'), ['card_id'], unique=False)
        batch_op.create_index('ix_ledger_transaction_member_id_id', ['member_id', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ledger_transaction_reverses_id'), ['reverses_id'], unique=False)

    op.create_table('ledger_line',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('transaction_id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('asset', sa.String(length=24), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('balance_after', sa.BigInteger(), nullable=True),
    sa.CheckConstraint('amount <> 0', name=op.f('ck_ledger_line_amount_nonzero')),
    sa.ForeignKeyConstraint(['account_id', 'asset'], ['ledger_account.id', 'ledger_account.asset'], name='fk_ledger_line_account_asset'),
    sa.ForeignKeyConstraint(['transaction_id'], ['ledger_transaction.id'], name=op.f('fk_ledger_line_transaction_id_ledger_transaction')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_line'))
    )
    with op.batch_alter_table('ledger_line', schema=None) as batch_op:
        batch_op.create_index('ix_ledger_line_account_id_id', ['account_id', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ledger_line_transaction_id'), ['transaction_id'], unique=False)

    op.create_table('redemption',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('card_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=True),
    sa.Column('gift_id', sa.Integer(), nullable=True),
    sa.Column('coupon_id', sa.Integer(), nullable=True),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('points_spent', sa.Integer(), nullable=False),
    sa.Column('transaction_id', sa.Integer(), nullable=True),
    sa.Column('store_id', sa.Integer(), nullable=True),
    sa.Column('created_at', app.db.UtcDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('gift', 'coupon_exchange', 'coupon_use')", name=op.f('ck_redemption_kind')),
    sa.CheckConstraint('points_spent >= 0', name=op.f('ck_redemption_points_nonnegative')),
    sa.CheckConstraint('quantity > 0', name=op.f('ck_redemption_quantity_positive')),
    sa.ForeignKeyConstraint(['card_id'], ['card.id'], name=op.f('fk_redemption_card_id_card')),
    sa.ForeignKeyConstraint(['coupon_id'], ['coupon.id'], name=op.f('fk_redemption_coupon_id_coupon')),
    sa.ForeignKeyConstraint(['gift_id'], ['gift.id'], name=op.f('fk_redemption_gift_id_gift')),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], name=op.f('fk_redemption_member_id_member')),
    sa.ForeignKeyConstraint(['store_id'], ['store.id'], name=op.f('fk_redemption_store_id_store')),
    sa.ForeignKeyConstraint(['transaction_id'], ['ledger_transaction.id'], name=op.f('fk_redemption_transaction_id_ledger_transaction')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_redemption'))
    )
    with op.batch_alter_table('redemption', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_redemption_card_id'), ['card_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_redemption_member_id'), ['member_id'], unique=False)

    op.create_table('points_lot',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('line_id', sa.Integer(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('remaining', sa.BigInteger(), nullable=False),
    sa.Column('earned_at', app.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('expires_on', sa.Date(), nullable=True),
    sa.Column('moved_from_id', sa.Integer(), nullable=True),
    sa.CheckConstraint('amount > 0', name=op.f('ck_points_lot_amount_positive')),
    sa.CheckConstraint('remaining >= 0 AND remaining <= amount', name=op.f('ck_points_lot_remaining_range')),
    sa.ForeignKeyConstraint(['account_id'], ['ledger_account.id'], name=op.f('fk_points_lot_account_id_ledger_account')),
    sa.ForeignKeyConstraint(['line_id'], ['ledger_line.id'], name=op.f('fk_points_lot_line_id_ledger_line')),
    sa.ForeignKeyConstraint(['moved_from_id'], ['points_lot.id'], name=op.f('fk_points_lot_moved_from_id_points_lot')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_points_lot'))
    )
    with op.batch_alter_table('points_lot', schema=None) as batch_op:
        batch_op.create_index('ix_points_lot_account_id_remaining', ['account_id', 'remaining'], unique=False)
        batch_op.create_index(batch_op.f('ix_points_lot_line_id'), ['line_id'], unique=False)

    op.create_table('points_lot_use',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('line_id', sa.Integer(), nullable=False),
    sa.Column('lot_id', sa.Integer(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.CheckConstraint('amount <> 0', name=op.f('ck_points_lot_use_amount_nonzero')),
    sa.ForeignKeyConstraint(['line_id'], ['ledger_line.id'], name=op.f('fk_points_lot_use_line_id_ledger_line')),
    sa.ForeignKeyConstraint(['lot_id'], ['points_lot.id'], name=op.f('fk_points_lot_use_lot_id_points_lot')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_points_lot_use'))
    )
    with op.batch_alter_table('points_lot_use', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_points_lot_use_line_id'), ['line_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_points_lot_use_lot_id'), ['lot_id'], unique=False)

    # ### end Alembic commands ###

    _install_invariants()


def downgrade() -> None:
    # ### commands auto generated by Alembic - please adjust! ###
    with op.batch_alter_table('points_lot_use', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_points_lot_use_lot_id'))
        batch_op.drop_index(batch_op.f('ix_points_lot_use_line_id'))

    op.drop_table('points_lot_use')
    with op.batch_alter_table('points_lot', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_points_lot_line_id'))
        batch_op.drop_index('ix_points_lot_account_id_remaining')

    op.drop_table('points_lot')
    with op.batch_alter_table('redemption', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_redemption_member_id'))
        batch_op.drop_index(batch_op.f('ix_redemption_card_id'))

    op.drop_table('redemption')
    with op.batch_alter_table('ledger_line', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ledger_line_transaction_id'))
        batch_op.drop_index('ix_ledger_line_account_id_id')

    op.drop_table('ledger_line')
    with op.batch_alter_table('ledger_transaction', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ledger_transaction_reverses_id'))
        batch_op.drop_index('ix_ledger_transaction_member_id_id')
        batch_op.drop_index(batch_op.f('ix_ledger_transaction_card_id'))

    op.drop_table('ledger_transaction')
    op.drop_table('ledger_account')
    op.drop_table('member_growth')
    with op.batch_alter_table('level_change', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_level_change_member_id'))

    op.drop_table('level_change')
    with op.batch_alter_table('growth_entry', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_growth_entry_member_id'))

    op.drop_table('growth_entry')
    with op.batch_alter_table('coupon', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_coupon_member_id'))
        batch_op.drop_index(batch_op.f('ix_coupon_coupon_type_id'))

    op.drop_table('coupon')
    op.drop_table('level_rule')
    op.drop_table('idempotency_record')
    op.drop_table('recharge_plan')
    op.drop_table('program_rules')
    op.drop_table('gift')
    op.drop_table('earning_rule')
    op.drop_table('coupon_type')
    op.drop_table('card_discount')
    # ### end Alembic commands ###

    if op.get_bind().dialect.name == "postgresql":
        with op.get_bind().connection.dbapi_connection.cursor() as cursor:  # type: ignore[union-attr]
            cursor.execute(PG_DROP_FUNCTIONS)
