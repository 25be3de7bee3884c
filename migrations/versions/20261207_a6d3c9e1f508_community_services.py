"""community services marketplace: admissions of outside merchants with a commission, the
catalog, bookings; a trade's community commission

Revision ID: a6d3c9e1f508
Revises: a7c3e9f1b285
Create Date: 2026-12-07 14:00:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = 'a6d3c9e1f508'
down_revision = 'a7c3e9f1b285'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('trades', schema=None) as batch_op:
        batch_op.add_column(sa.Column('community_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('community_rate_bp', sa.Integer(), nullable=False,
                                      server_default='0'))
    op.create_table(
        'community_service_admissions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('public_id', sa.String(length=24), nullable=False),
        sa.Column('community_id', sa.Integer(), nullable=False),
        sa.Column('merchant_id', sa.Integer(), nullable=False),
        sa.Column('miniapp_id', sa.Integer(), nullable=False),
        sa.Column('offer', sa.String(length=400), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('commission_bp', sa.Integer(), nullable=False),
        sa.Column('reason', sa.String(length=200), nullable=False),
        sa.Column('applied_by_id', sa.Integer(), nullable=True),
        sa.Column('decided_by_id', sa.Integer(), nullable=True),
        sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('ended_by', sa.String(length=16), nullable=False),
        sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint('commission_bp BETWEEN 0 AND 3000', name='commission_range'),
        sa.ForeignKeyConstraint(['applied_by_id'], ['users.id']),
        sa.ForeignKeyConstraint(['community_id'], ['communities.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['decided_by_id'], ['users.id']),
        sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id']),
        sa.ForeignKeyConstraint(['miniapp_id'], ['miniapps.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('public_id'),
    )
    op.create_index('ix_community_service_admissions_community',
                    'community_service_admissions', ['community_id', 'status'])
    op.create_index('ix_community_service_admissions_merchant_id',
                    'community_service_admissions', ['merchant_id'])
    op.create_table(
        'community_services',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('public_id', sa.String(length=24), nullable=False),
        sa.Column('community_id', sa.Integer(), nullable=False),
        sa.Column('admission_id', sa.Integer(), nullable=True),
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.Column('description', sa.String(length=400), nullable=False),
        sa.Column('price_fen', sa.BigInteger(), nullable=False),
        sa.Column('store_id', sa.Integer(), nullable=True),
        sa.Column('sku_id', sa.Integer(), nullable=True),
        sa.Column('link_miniapp_id', sa.Integer(), nullable=True),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint('price_fen >= 0', name='price_not_negative'),
        sa.ForeignKeyConstraint(['admission_id'], ['community_service_admissions.id']),
        sa.ForeignKeyConstraint(['community_id'], ['communities.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['link_miniapp_id'], ['miniapps.id']),
        sa.ForeignKeyConstraint(['sku_id'], ['ordering_skus.id']),
        sa.ForeignKeyConstraint(['store_id'], ['ordering_stores.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('community_id', 'name'),
        sa.UniqueConstraint('public_id'),
    )
    op.create_index('ix_community_services_community_id', 'community_services', ['community_id'])
    op.create_table(
        'community_service_bookings',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('public_id', sa.String(length=24), nullable=False),
        sa.Column('community_id', sa.Integer(), nullable=False),
        sa.Column('service_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('user_sub', sa.String(length=64), nullable=False),
        sa.Column('idempotency_key', sa.String(length=64), nullable=False),
        sa.Column('miniapp_id', sa.Integer(), nullable=False),
        sa.Column('merchant_id', sa.Integer(), nullable=False),
        sa.Column('slot_start', sa.DateTime(timezone=True), nullable=False),
        sa.Column('hold_id', sa.Integer(), nullable=False),
        sa.Column('trade_no', sa.String(length=32), nullable=False),
        sa.Column('price_fen', sa.BigInteger(), nullable=False),
        sa.Column('commission_bp', sa.Integer(), nullable=False),
        sa.Column('address', sa.String(length=120), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('paid_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('rating', sa.Integer(), nullable=True),
        sa.Column('complaint', sa.String(length=400), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint('rating IS NULL OR rating BETWEEN 1 AND 5', name='rating_range'),
        sa.ForeignKeyConstraint(['community_id'], ['communities.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['hold_id'], ['ordering_holds.id']),
        sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id']),
        sa.ForeignKeyConstraint(['miniapp_id'], ['miniapps.id']),
        sa.ForeignKeyConstraint(['service_id'], ['community_services.id']),
        sa.ForeignKeyConstraint(['user_id'], ['users.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('public_id'),
        sa.UniqueConstraint('trade_no'),
        sa.UniqueConstraint('user_id', 'idempotency_key'),
    )
    for column in ('community_id', 'service_id', 'user_id'):
        op.create_index(f'ix_community_service_bookings_{column}',
                        'community_service_bookings', [column])


def downgrade() -> None:
    for column in ('user_id', 'service_id', 'community_id'):
        op.drop_index(f'ix_community_service_bookings_{column}',
                      table_name='community_service_bookings')
    op.drop_table('community_service_bookings')
    op.drop_index('ix_community_services_community_id', table_name='community_services')
    op.drop_table('community_services')
    op.drop_index('ix_community_service_admissions_merchant_id',
                  table_name='community_service_admissions')
    op.drop_index('ix_community_service_admissions_community',
                  table_name='community_service_admissions')
    op.drop_table('community_service_admissions')
    with op.batch_alter_table('trades', schema=None) as batch_op:
        batch_op.drop_column('community_rate_bp')
        batch_op.drop_column('community_id')
