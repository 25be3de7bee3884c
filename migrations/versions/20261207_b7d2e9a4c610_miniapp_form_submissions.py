"""miniapp form submissions (what residents send through a first-party mini-app page's form)

Revision ID: b7d2e9a4c610
Revises: 5ec0a11d1e12
Create Date: 2026-12-07 06:40:00
"""

from alembic import op
import sqlalchemy as sa
import townsquare.core.database


revision = 'b7d2e9a4c610'
down_revision = '5ec0a11d1e12'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('miniapp_form_submissions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=24), nullable=False),
    sa.Column('miniapp_id', sa.Integer(), nullable=False),
    sa.Column('sub', sa.String(length=35), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('answers', sa.JSON(), nullable=False),
    sa.Column('amount_fen', sa.Integer(), nullable=False),
    sa.Column('created_at', townsquare.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['miniapp_id'], ['miniapps.id'], name=op.f('fk_miniapp_form_submissions_miniapp_id_miniapps'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_miniapp_form_submissions_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_miniapp_form_submissions')),
    sa.UniqueConstraint('public_id', name=op.f('uq_miniapp_form_submissions_public_id'))
    )
    with op.batch_alter_table('miniapp_form_submissions', schema=None) as batch_op:
        batch_op.create_index('ix_form_submissions_app_sub', ['miniapp_id', 'sub', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_miniapp_form_submissions_user_id'), ['user_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('miniapp_form_submissions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_miniapp_form_submissions_user_id'))
        batch_op.drop_index('ix_form_submissions_app_sub')
    op.drop_table('miniapp_form_submissions')
