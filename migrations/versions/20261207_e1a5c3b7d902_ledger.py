"""the double-entry ledger: accounts, journal entries, postings

Revision ID: e1a5c3b7d902
Revises: a7c3e9d2b815
Create Date: 2026-12-07 09:30:00
"""

from alembic import op
import sqlalchemy as sa

import townsquare.core.database


revision = 'e1a5c3b7d902'
down_revision = 'a7c3e9d2b815'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'ledger_accounts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('code', sa.String(length=64), nullable=False),
        sa.Column('kind', sa.Enum('wallet', 'merchant_pending', 'merchant_available',
                                  'platform_fees', 'isv_commission', 'community_commission',
                                  'bank_clearing', name='accountkind', native_enum=False,
                                  length=24), nullable=False),
        sa.Column('may_go_negative', sa.Boolean(), nullable=False),
        sa.Column('balance_fen', sa.BigInteger(), nullable=False),
        sa.Column('created_at', townsquare.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_accounts')),
        sa.UniqueConstraint('code', name=op.f('uq_ledger_accounts_code')),
    )
    op.create_table(
        'ledger_entries',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('public_id', sa.String(length=24), nullable=False),
        sa.Column('kind', sa.String(length=32), nullable=False),
        sa.Column('reference', sa.String(length=64), nullable=False),
        sa.Column('idempotency_key', sa.String(length=160), nullable=True),
        sa.Column('memo', sa.String(length=200), nullable=False),
        sa.Column('reverses_id', sa.Integer(), nullable=True),
        sa.Column('created_at', townsquare.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['reverses_id'], ['ledger_entries.id'],
                                name=op.f('fk_ledger_entries_reverses_id_ledger_entries')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_entries')),
        sa.UniqueConstraint('idempotency_key', name=op.f('uq_ledger_entries_idempotency_key')),
        sa.UniqueConstraint('public_id', name=op.f('uq_ledger_entries_public_id')),
    )
    op.create_index(op.f('ix_ledger_entries_reference'), 'ledger_entries', ['reference'])
    op.create_table(
        'ledger_postings',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('entry_id', sa.Integer(), nullable=False),
        sa.Column('account_id', sa.Integer(), nullable=False),
        sa.Column('amount_fen', sa.BigInteger(), nullable=False),
        sa.Column('created_at', townsquare.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['account_id'], ['ledger_accounts.id'],
                                name=op.f('fk_ledger_postings_account_id_ledger_accounts')),
        sa.ForeignKeyConstraint(['entry_id'], ['ledger_entries.id'],
                                name=op.f('fk_ledger_postings_entry_id_ledger_entries')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_postings')),
    )
    op.create_index(op.f('ix_ledger_postings_entry_id'), 'ledger_postings', ['entry_id'])
    op.create_index('ix_ledger_postings_account_entry', 'ledger_postings',
                    ['account_id', 'entry_id'])


def downgrade() -> None:
    op.drop_table('ledger_postings')
    op.drop_table('ledger_entries')
    op.drop_table('ledger_accounts')
