"""visitor passes: visitor rules per community, invitations, passages name their invitation

Revision ID: a9e4c2b7d18f
Revises: a9c3e5f7b214
Create Date: 2026-12-07 14:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = 'a9e4c2b7d18f'
down_revision = 'a9c3e5f7b214'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'community_visitor_rules',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('community_id', sa.Integer(), nullable=False),
        sa.Column('per_household_per_day', sa.Integer(), nullable=False),
        sa.Column('max_days_ahead', sa.Integer(), nullable=False),
        sa.Column('max_hours', sa.Integer(), nullable=False),
        sa.Column('lockdown', sa.Boolean(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['community_id'], ['communities.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('community_id'),
    )
    op.create_table(
        'community_visitor_invitations',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('public_id', sa.String(length=24), nullable=False),
        sa.Column('community_id', sa.Integer(), nullable=False),
        sa.Column('household_id', sa.Integer(), nullable=False),
        sa.Column('host_id', sa.Integer(), nullable=True),
        sa.Column('visitor_name', sa.String(length=32), nullable=False),
        sa.Column('visitor_phone', sa.String(length=20), nullable=False),
        sa.Column('purpose', sa.String(length=100), nullable=False),
        sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('token_digest', sa.String(length=64), nullable=False),
        sa.Column('idempotency_key', sa.String(length=64), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['community_id'], ['communities.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['household_id'], ['households.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['host_id'], ['community_persons.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('public_id'),
        sa.UniqueConstraint('token_digest'),
        sa.UniqueConstraint('household_id', 'idempotency_key'),
    )
    op.create_index('ix_community_visitor_invitations_household_day',
                    'community_visitor_invitations', ['household_id', 'day'])
    with op.batch_alter_table('community_passages') as batch:
        batch.add_column(sa.Column('invitation_id', sa.Integer(), nullable=True))
        batch.create_foreign_key('fk_community_passages_invitation_id',
                                 'community_visitor_invitations', ['invitation_id'], ['id'],
                                 ondelete='SET NULL')


def downgrade() -> None:
    with op.batch_alter_table('community_passages') as batch:
        batch.drop_constraint('fk_community_passages_invitation_id', type_='foreignkey')
        batch.drop_column('invitation_id')
    op.drop_index('ix_community_visitor_invitations_household_day',
                  table_name='community_visitor_invitations')
    op.drop_table('community_visitor_invitations')
    op.drop_table('community_visitor_rules')
