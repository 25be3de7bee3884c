"""Search: the index moves into memory (traffic.search.index); drop its two tables.

Revision ID: a7c3e9d2b815
Revises: c0a7e9d3b514
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

import townsquare.core.database

revision = 'a7c3e9d2b815'
down_revision = 'c0a7e9d3b514'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index('ix_search_terms_miniapp', table_name='search_terms')
    op.drop_table('search_terms')
    op.drop_table('search_documents')


def downgrade() -> None:
    op.create_table('search_documents',
    sa.Column('miniapp_id', sa.Integer(), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('lengths', sa.JSON(), nullable=False),
    sa.Column('indexed_at', townsquare.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['miniapp_id'], ['miniapps.id'], name=op.f('fk_search_documents_miniapp_id_miniapps'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('miniapp_id', name=op.f('pk_search_documents'))
    )
    op.create_table('search_terms',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('term', sa.String(length=64), nullable=False),
    sa.Column('miniapp_id', sa.Integer(), nullable=False),
    sa.Column('field', sa.String(length=16), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['miniapp_id'], ['miniapps.id'], name=op.f('fk_search_terms_miniapp_id_miniapps'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_search_terms')),
    sa.UniqueConstraint('term', 'miniapp_id', 'field', name=op.f('uq_search_terms_term_miniapp_id_field'))
    )
    op.create_index('ix_search_terms_miniapp', 'search_terms', ['miniapp_id'], unique=False)
