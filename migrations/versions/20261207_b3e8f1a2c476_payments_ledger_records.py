"""payments fee rules, royalty rates, withdrawals, reconciliation runs, payout cards

Revision ID: b3e8f1a2c476
Revises: 4813915c0953
Create Date: 2026-12-07 09:17:05.189964
"""

from alembic import op
import sqlalchemy as sa
import townsquare.core.database


revision = 'b3e8f1a2c476'
down_revision = '4813915c0953'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('payment_reconciliation_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=24), nullable=False),
    sa.Column('started_at', townsquare.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', townsquare.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sound', sa.Boolean(), nullable=False),
    sa.Column('accounts', sa.Integer(), nullable=False),
    sa.Column('entries', sa.Integer(), nullable=False),
    sa.Column('total_fen', sa.BigInteger(), nullable=False),
    sa.Column('findings', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_reconciliation_runs')),
    sa.UniqueConstraint('public_id', name=op.f('uq_payment_reconciliation_runs_public_id'))
    )
    op.create_table('payment_fee_rules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=True),
    sa.Column('rate_bp', sa.Integer(), nullable=False),
    sa.Column('updated_at', townsquare.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['category_id'], ['categories.id'], name=op.f('fk_payment_fee_rules_category_id_categories'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'], name=op.f('fk_payment_fee_rules_updated_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_fee_rules')),
    sa.UniqueConstraint('category_id', name=op.f('uq_payment_fee_rules_category_id'))
    )
    op.create_table('payment_payout_cards',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('merchant_id', sa.Integer(), nullable=False),
    sa.Column('token', sa.String(length=64), nullable=False),
    sa.Column('bank_name', sa.String(length=32), nullable=False),
    sa.Column('number_masked', sa.String(length=32), nullable=False),
    sa.Column('bound_at', townsquare.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('bound_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['bound_by_id'], ['users.id'], name=op.f('fk_payment_payout_cards_bound_by_id_users')),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_payment_payout_cards_merchant_id_merchants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_payout_cards')),
    sa.UniqueConstraint('merchant_id', name=op.f('uq_payment_payout_cards_merchant_id'))
    )
    op.create_table('payment_withdrawals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=24), nullable=False),
    sa.Column('merchant_id', sa.Integer(), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('card_ref', sa.String(length=64), nullable=False),
    sa.Column('idempotency_key', sa.String(length=80), nullable=False),
    sa.Column('status', sa.Enum('processing', 'succeeded', 'failed', name='withdrawalstatus', native_enum=False, length=16), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=True),
    sa.Column('entry_id', sa.Integer(), nullable=False),
    sa.Column('payout_ref', sa.String(length=64), nullable=False),
    sa.Column('failure', sa.String(length=200), nullable=False),
    sa.Column('finished_at', townsquare.core.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', townsquare.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['entry_id'], ['ledger_entries.id'], name=op.f('fk_payment_withdrawals_entry_id_ledger_entries')),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_payment_withdrawals_merchant_id_merchants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_payment_withdrawals_requested_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_withdrawals')),
    sa.UniqueConstraint('merchant_id', 'idempotency_key', name=op.f('uq_payment_withdrawals_merchant_id_idempotency_key')),
    sa.UniqueConstraint('public_id', name=op.f('uq_payment_withdrawals_public_id'))
    )
    with op.batch_alter_table('payment_withdrawals', schema=None) as batch_op:
        batch_op.create_index('ix_payment_withdrawals_merchant_created', ['merchant_id', 'created_at'], unique=False)

    op.create_table('payment_royalty_rates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('authorization_id', sa.Integer(), nullable=False),
    sa.Column('rate_bp', sa.Integer(), nullable=False),
    sa.Column('updated_at', townsquare.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['authorization_id'], ['authorizations.id'], name=op.f('fk_payment_royalty_rates_authorization_id_authorizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'], name=op.f('fk_payment_royalty_rates_updated_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_royalty_rates')),
    sa.UniqueConstraint('authorization_id', name=op.f('uq_payment_royalty_rates_authorization_id'))
    )


def downgrade() -> None:
    op.drop_table('payment_royalty_rates')
    with op.batch_alter_table('payment_withdrawals', schema=None) as batch_op:
        batch_op.drop_index('ix_payment_withdrawals_merchant_created')

    op.drop_table('payment_withdrawals')
    op.drop_table('payment_payout_cards')
    op.drop_table('payment_fee_rules')
    op.drop_table('payment_reconciliation_runs')
