"""ISV third-party apps and app authorization: a gateway app owned by a service provider (one
owner of two: a mini-app or a provider), app_auth_code and app_auth_token.

Revision ID: e3b9f1a6c2d4
Revises: e1a5c3b7d902
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

import townsquare.core.database

revision = 'e3b9f1a6c2d4'
down_revision = 'e1a5c3b7d902'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('gateway_apps', schema=None) as batch_op:
        batch_op.add_column(sa.Column('provider_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('redirect_uri', sa.String(length=500), nullable=False,
                                      server_default=''))
        batch_op.alter_column('miniapp_id', existing_type=sa.Integer(), nullable=True)
        batch_op.create_unique_constraint(batch_op.f('uq_gateway_apps_provider_id'),
                                          ['provider_id'])
        batch_op.create_foreign_key(
            batch_op.f('fk_gateway_apps_provider_id_service_providers'), 'service_providers',
            ['provider_id'], ['id'], ondelete='CASCADE')
        batch_op.create_check_constraint(
            'one_owner', '(miniapp_id IS NULL) <> (provider_id IS NULL)')
    op.create_table('gateway_app_auth_codes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('app_id', sa.Integer(), nullable=False),
    sa.Column('authorization_id', sa.Integer(), nullable=False),
    sa.Column('code_digest', sa.String(length=64), nullable=False),
    sa.Column('packages', sa.JSON(), nullable=False),
    sa.Column('created_at', townsquare.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', townsquare.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('used_at', townsquare.core.database.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['app_id'], ['gateway_apps.id'], name=op.f('fk_gateway_app_auth_codes_app_id_gateway_apps'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['authorization_id'], ['authorizations.id'], name=op.f('fk_gateway_app_auth_codes_authorization_id_authorizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_gateway_app_auth_codes')),
    sa.UniqueConstraint('code_digest', name=op.f('uq_gateway_app_auth_codes_code_digest'))
    )
    op.create_table('gateway_app_auth_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('app_id', sa.Integer(), nullable=False),
    sa.Column('authorization_id', sa.Integer(), nullable=False),
    sa.Column('access_digest', sa.String(length=64), nullable=False),
    sa.Column('refresh_digest', sa.String(length=64), nullable=False),
    sa.Column('packages', sa.JSON(), nullable=False),
    sa.Column('auth_start', townsquare.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_at', townsquare.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', townsquare.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('refresh_expires_at', townsquare.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('retired_at', townsquare.core.database.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['app_id'], ['gateway_apps.id'], name=op.f('fk_gateway_app_auth_tokens_app_id_gateway_apps'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['authorization_id'], ['authorizations.id'], name=op.f('fk_gateway_app_auth_tokens_authorization_id_authorizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_gateway_app_auth_tokens')),
    sa.UniqueConstraint('access_digest', name=op.f('uq_gateway_app_auth_tokens_access_digest')),
    sa.UniqueConstraint('refresh_digest', name=op.f('uq_gateway_app_auth_tokens_refresh_digest'))
    )
    with op.batch_alter_table('gateway_app_auth_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_gateway_app_auth_tokens_authorization_id'), ['authorization_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('gateway_app_auth_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_gateway_app_auth_tokens_authorization_id'))
    op.drop_table('gateway_app_auth_tokens')
    op.drop_table('gateway_app_auth_codes')
    op.execute("DELETE FROM gateway_apps WHERE miniapp_id IS NULL")
    with op.batch_alter_table('gateway_apps', schema=None) as batch_op:
        batch_op.drop_constraint('one_owner', type_='check')
        batch_op.drop_constraint(batch_op.f('fk_gateway_apps_provider_id_service_providers'),
                                 type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('uq_gateway_apps_provider_id'), type_='unique')
        batch_op.alter_column('miniapp_id', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column('redirect_uri')
        batch_op.drop_column('provider_id')
