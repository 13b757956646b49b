"""Database objects beyond the models: the journal's invariants, enforced by the database.

``install(connection)`` creates them: ``models.py`` runs it after ``create_all``
(tests), the Alembic migration runs it after creating the tables. PostgreSQL
gets all of them; SQLite the append-only and system-account triggers (its zero
sum is checked by the journal before any write).
"""

from __future__ import annotations

from typing import Any

#: Lines sum to zero per (transaction, asset), checked at COMMIT so a posting can
#: insert its lines one by one. A constraint trigger must be FOR EACH ROW; each
#: check reads only its own transaction's few lines through the index.
PG_ZERO_SUM = """
CREATE OR REPLACE FUNCTION ledger_check_zero_sum() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
    SELECT asset, sum(amount) AS total INTO bad
      FROM ledger_line
     WHERE transaction_id = NEW.transaction_id
     GROUP BY asset
    HAVING sum(amount) <> 0
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger transaction % does not balance: % sums to %',
            NEW.transaction_id, bad.asset, bad.total
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER ledger_line_zero_sum
    AFTER INSERT ON ledger_line
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION ledger_check_zero_sum();
"""

#: Lines, lot uses and transactions are append-only: no UPDATE, and no DELETE of
#: some rows. Emptying a whole table (a test teardown, a deliberate reset) stays
#: possible: the statement-level check only fires when rows are left behind.
PG_APPEND_ONLY = """
CREATE OR REPLACE FUNCTION ledger_forbid_update() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: post a correcting transaction instead', TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END
$$;
CREATE OR REPLACE FUNCTION ledger_forbid_partial_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I)', TG_TABLE_NAME) INTO STRICT FOUND;
    IF FOUND THEN
        RAISE EXCEPTION '% is append-only: rows cannot be deleted', TG_TABLE_NAME
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER ledger_line_no_update BEFORE UPDATE ON ledger_line
    FOR EACH ROW EXECUTE FUNCTION ledger_forbid_update();
CREATE TRIGGER ledger_line_no_delete AFTER DELETE ON ledger_line
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_forbid_partial_delete();
CREATE TRIGGER points_lot_use_no_update BEFORE UPDATE ON points_lot_use
    FOR EACH ROW EXECUTE FUNCTION ledger_forbid_update();
CREATE TRIGGER points_lot_use_no_delete AFTER DELETE ON points_lot_use
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_forbid_partial_delete();
CREATE TRIGGER ledger_transaction_no_update BEFORE UPDATE ON ledger_transaction
    FOR EACH ROW EXECUTE FUNCTION ledger_forbid_update();
CREATE TRIGGER ledger_transaction_no_delete AFTER DELETE ON ledger_transaction
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_forbid_partial_delete();
"""

#: SQLite: lines and lot uses cannot be updated (one statement per trigger).
SQLITE_APPEND_ONLY = [
    """CREATE TRIGGER ledger_line_no_update BEFORE UPDATE ON ledger_line
BEGIN SELECT RAISE(ABORT, 'ledger_line is append-only'); END""",
    """CREATE TRIGGER points_lot_use_no_update BEFORE UPDATE ON points_lot_use
BEGIN SELECT RAISE(ABORT, 'points_lot_use is append-only'); END""",
    """CREATE TRIGGER ledger_transaction_no_update BEFORE UPDATE ON ledger_transaction
BEGIN SELECT RAISE(ABORT, 'ledger_transaction is append-only'); END""",
]

#: System accounts are permanent rows, created with the schema (postings never look
#: them up or create them): deleting one is silently skipped, even by a test's wipe.
PG_KEEP_SYSTEM_ACCOUNTS = """
CREATE OR REPLACE FUNCTION ledger_keep_system_accounts() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.code IS NOT NULL THEN
        RETURN NULL;
    END IF;
    RETURN OLD;
END
$$;
CREATE TRIGGER ledger_account_keep_system BEFORE DELETE ON ledger_account
    FOR EACH ROW EXECUTE FUNCTION ledger_keep_system_accounts();
"""
SQLITE_KEEP_SYSTEM_ACCOUNTS = """CREATE TRIGGER ledger_account_keep_system
BEFORE DELETE ON ledger_account WHEN OLD.code IS NOT NULL
BEGIN SELECT RAISE(IGNORE); END"""


def seed_system_accounts_sql() -> str:
    """The INSERT of every system account (both databases; a second run adds nothing)."""
    from app.ledger.models import SYSTEM_ACCOUNTS

    values = ", ".join(f"({i}, '{code}', '{asset}', 0)" for i, code, asset in SYSTEM_ACCOUNTS)
    return (
        f"INSERT INTO ledger_account (id, code, asset, balance) VALUES {values} "
        "ON CONFLICT DO NOTHING"
    )


#: Downgrade (PostgreSQL): the triggers go with their tables; the functions stay unless dropped.
PG_DROP_FUNCTIONS = """
DROP FUNCTION IF EXISTS ledger_check_zero_sum() CASCADE;
DROP FUNCTION IF EXISTS ledger_forbid_update() CASCADE;
DROP FUNCTION IF EXISTS ledger_forbid_partial_delete() CASCADE;
DROP FUNCTION IF EXISTS ledger_keep_system_accounts() CASCADE;
"""


def install(connection: Any) -> None:
    """Create the triggers and the system accounts on ``connection`` (a SQLAlchemy Connection).

    Used by ``create_all`` (tests) and by the migration::

        from app.ledger.ddl import install
        install(op.get_bind())

    PostgreSQL's SQL runs on the driver's cursor without parameters, so the ``%`` of
    plpgsql's RAISE is not read as a placeholder and several statements may share a call.
    """
    if connection.dialect.name == "postgresql":
        with connection.connection.dbapi_connection.cursor() as cursor:
            cursor.execute(PG_ZERO_SUM)
            cursor.execute(PG_APPEND_ONLY)
            cursor.execute(PG_KEEP_SYSTEM_ACCOUNTS)
    elif connection.dialect.name == "sqlite":
        for sql in [*SQLITE_APPEND_ONLY, SQLITE_KEEP_SYSTEM_ACCOUNTS]:
            connection.exec_driver_sql(sql)
    connection.exec_driver_sql(seed_system_accounts_sql())
