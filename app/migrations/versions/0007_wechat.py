"""wechat: bindings, phone codes, scenes, the shared access token, alert channel

Members follow the official account: an openid binds to a member (by a code sent to the
phone, or a scene QR), every process shares one access token, and a member bound on both
channels chooses where alerts go.

Revision ID: 0007_wechat
Revises: 0006_level_names
Create Date: 2026-12-07 07:38:44.232807
"""

from alembic import op
import sqlalchemy as sa
import app.db


revision = '0007_wechat'
down_revision = '0006_level_names'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('phone_code',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('openid', sa.String(length=64), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('purpose', sa.String(length=8), nullable=False),
    sa.Column('code_hash', sa.String(length=128), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('expires_at', app.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('closed_at', app.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('created_at', app.db.UtcDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("purpose IN ('bind', 'join')", name=op.f('ck_phone_code_purpose')),
    sa.CheckConstraint('attempts >= 0', name=op.f('ck_phone_code_attempts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_phone_code'))
    )
    with op.batch_alter_table('phone_code', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_phone_code_openid'), ['openid'], unique=False)

    op.create_table('wechat_access_token',
    sa.Column('app_id', sa.String(length=64), nullable=False),
    sa.Column('token', sa.Text(), nullable=False),
    sa.Column('expires_at', app.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('refreshed_at', app.db.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('app_id', name=op.f('pk_wechat_access_token'))
    )
    op.create_table('wechat_binding',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('openid', sa.String(length=64), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('via', sa.String(length=8), nullable=False),
    sa.Column('bound_at', app.db.UtcDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("via IN ('code', 'scene')", name=op.f('ck_wechat_binding_via')),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], name=op.f('fk_wechat_binding_member_id_member')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_wechat_binding')),
    sa.UniqueConstraint('member_id', name=op.f('uq_wechat_binding_member_id')),
    sa.UniqueConstraint('openid', name=op.f('uq_wechat_binding_openid'))
    )
    op.create_table('wechat_scene',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('scene', sa.String(length=64), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('ticket', sa.String(length=200), nullable=True),
    sa.Column('permanent', sa.Boolean(), nullable=False),
    sa.Column('expires_at', app.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('used_at', app.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('created_at', app.db.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], name=op.f('fk_wechat_scene_member_id_member')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_wechat_scene')),
    sa.UniqueConstraint('scene', name=op.f('uq_wechat_scene_scene'))
    )
    with op.batch_alter_table('wechat_scene', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_wechat_scene_member_id'), ['member_id'], unique=False)

    with op.batch_alter_table('member', schema=None) as batch_op:
        batch_op.add_column(sa.Column('alert_channel', sa.String(length=8), nullable=True))
        batch_op.create_check_constraint(
            'alert_channel', "alert_channel IN ('wechat', 'sms', 'both')"
        )



def downgrade() -> None:
    with op.batch_alter_table('member', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_member_alert_channel'), type_='check')
        batch_op.drop_column('alert_channel')

    with op.batch_alter_table('wechat_scene', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_wechat_scene_member_id'))

    op.drop_table('wechat_scene')
    op.drop_table('wechat_binding')
    op.drop_table('wechat_access_token')
    with op.batch_alter_table('phone_code', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_phone_code_openid'))

    op.drop_table('phone_code')
