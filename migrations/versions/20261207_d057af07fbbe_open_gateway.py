"""open gateway

Revision ID: d057af07fbbe
Revises: b7d2e9a4c610
Create Date: 2026-12-07 06:30:25.914724
"""

from alembic import op
import sqlalchemy as sa
import townsquare.core.database


revision = 'd057af07fbbe'
down_revision = 'b7d2e9a4c610'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('gateway_platform_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('fingerprint', sa.String(length=16), nullable=False),
    sa.Column('public_key', sa.Text(), nullable=False),
    sa.Column('sealed_private_key', sa.LargeBinary(), nullable=False),
    sa.Column('retires_at', townsquare.core.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', townsquare.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_gateway_platform_keys')),
    sa.UniqueConstraint('fingerprint', name=op.f('uq_gateway_platform_keys_fingerprint'))
    )
    op.create_table('gateway_apps',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('app_id', sa.String(length=16), nullable=False),
    sa.Column('miniapp_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('active', 'suspended', name='appstatus', native_enum=False, length=16), nullable=False),
    sa.Column('created_at', townsquare.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['miniapp_id'], ['miniapps.id'], name=op.f('fk_gateway_apps_miniapp_id_miniapps'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_gateway_apps')),
    sa.UniqueConstraint('app_id', name=op.f('uq_gateway_apps_app_id')),
    sa.UniqueConstraint('miniapp_id', name=op.f('uq_gateway_apps_miniapp_id'))
    )
    op.create_table('gateway_app_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('app_id', sa.Integer(), nullable=False),
    sa.Column('public_key', sa.Text(), nullable=False),
    sa.Column('fingerprint', sa.String(length=16), nullable=False),
    sa.Column('retires_at', townsquare.core.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', townsquare.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['app_id'], ['gateway_apps.id'], name=op.f('fk_gateway_app_keys_app_id_gateway_apps'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_gateway_app_keys')),
    sa.UniqueConstraint('app_id', 'fingerprint', name=op.f('uq_gateway_app_keys_app_id_fingerprint'))
    )
    op.create_table('gateway_calls',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('app_id', sa.Integer(), nullable=False),
    sa.Column('method', sa.String(length=64), nullable=False),
    sa.Column('code', sa.String(length=8), nullable=False),
    sa.Column('sub_code', sa.String(length=64), nullable=False),
    sa.Column('at', townsquare.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('elapsed_ms', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['app_id'], ['gateway_apps.id'], name=op.f('fk_gateway_calls_app_id_gateway_apps'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_gateway_calls'))
    )
    with op.batch_alter_table('gateway_calls', schema=None) as batch_op:
        batch_op.create_index('ix_gateway_calls_app_at', ['app_id', 'at'], unique=False)

    op.create_table('gateway_package_grants',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('app_id', sa.Integer(), nullable=False),
    sa.Column('package', sa.String(length=32), nullable=False),
    sa.Column('status', sa.Enum('requested', 'granted', 'refused', name='grantstatus', native_enum=False, length=16), nullable=False),
    sa.Column('requested_at', townsquare.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('decided_at', townsquare.core.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('decided_by', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['app_id'], ['gateway_apps.id'], name=op.f('fk_gateway_package_grants_app_id_gateway_apps'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['decided_by'], ['users.id'], name=op.f('fk_gateway_package_grants_decided_by_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_gateway_package_grants')),
    sa.UniqueConstraint('app_id', 'package', name=op.f('uq_gateway_package_grants_app_id_package'))
    )
    op.create_table('gateway_user_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('app_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('access_digest', sa.String(length=64), nullable=False),
    sa.Column('refresh_digest', sa.String(length=64), nullable=False),
    sa.Column('scopes', sa.JSON(), nullable=False),
    sa.Column('expires_at', townsquare.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('refresh_expires_at', townsquare.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', townsquare.core.database.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['app_id'], ['gateway_apps.id'], name=op.f('fk_gateway_user_tokens_app_id_gateway_apps'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_gateway_user_tokens_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_gateway_user_tokens')),
    sa.UniqueConstraint('access_digest', name=op.f('uq_gateway_user_tokens_access_digest')),
    sa.UniqueConstraint('refresh_digest', name=op.f('uq_gateway_user_tokens_refresh_digest'))
    )
    op.create_table('gateway_notifications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('notify_id', sa.String(length=40), nullable=False),
    sa.Column('app_id', sa.Integer(), nullable=False),
    sa.Column('url', sa.String(length=512), nullable=False),
    sa.Column('notify_type', sa.String(length=48), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('state', sa.Enum('pending', 'delivered', 'gave_up', name='notificationstate', native_enum=False, length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', townsquare.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('delivered_at', townsquare.core.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', townsquare.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['app_id'], ['gateway_apps.id'], name=op.f('fk_gateway_notifications_app_id_gateway_apps'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_gateway_notifications')),
    sa.UniqueConstraint('notify_id', name=op.f('uq_gateway_notifications_notify_id'))
    )
    with op.batch_alter_table('gateway_notifications', schema=None) as batch_op:
        batch_op.create_index('ix_gateway_notifications_due', ['state', 'next_attempt_at'], unique=False)

    op.create_table('gateway_notification_attempts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('notification_id', sa.Integer(), nullable=False),
    sa.Column('at', townsquare.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('answer', sa.String(length=200), nullable=False),
    sa.Column('error', sa.String(length=200), nullable=False),
    sa.Column('elapsed_ms', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['notification_id'], ['gateway_notifications.id'], name=op.f('fk_gateway_notification_attempts_notification_id_gateway_notifications'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_gateway_notification_attempts'))
    )
    with op.batch_alter_table('gateway_notification_attempts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_gateway_notification_attempts_notification_id'), ['notification_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('gateway_notification_attempts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_gateway_notification_attempts_notification_id'))

    op.drop_table('gateway_notification_attempts')
    with op.batch_alter_table('gateway_notifications', schema=None) as batch_op:
        batch_op.drop_index('ix_gateway_notifications_due')

    op.drop_table('gateway_notifications')
    op.drop_table('gateway_user_tokens')
    op.drop_table('gateway_package_grants')
    with op.batch_alter_table('gateway_calls', schema=None) as batch_op:
        batch_op.drop_index('ix_gateway_calls_app_at')

    op.drop_table('gateway_calls')
    op.drop_table('gateway_app_keys')
    op.drop_table('gateway_apps')
    op.drop_table('gateway_platform_keys')
