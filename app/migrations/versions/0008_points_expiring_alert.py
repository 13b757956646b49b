"""alert types: points_expiring (a reminder before points expire), switchable like the rest

Revision ID: 0008_points_expiring_alert
Revises: 0007_wechat
Create Date: 2026-12-07 08:20:00.000000
"""

from alembic import op

revision = '0008_points_expiring_alert'
down_revision = '0007_wechat'
branch_labels = None
depends_on = None

OLD = "alert_type IN ('transaction', 'low_balance', 'level')"
NEW = "alert_type IN ('transaction', 'low_balance', 'level', 'points_expiring')"


def _swap(table: str, condition: str) -> None:
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.drop_constraint(op.f(f'ck_{table}_alert_type'), type_='check')
        batch_op.create_check_constraint('alert_type', condition)


def upgrade() -> None:
    _swap('alert_preference', NEW)
    _swap('programme_alert_setting', NEW)


def downgrade() -> None:
    op.execute("DELETE FROM alert_preference WHERE alert_type = 'points_expiring'")
    op.execute("DELETE FROM programme_alert_setting WHERE alert_type = 'points_expiring'")
    _swap('alert_preference', OLD)
    _swap('programme_alert_setting', OLD)
