"""campaign discounts: a campaign's optional discount (满减 and/or percentage with a cap), and
where an order's discount came from

Revision ID: c4e8a2f6d159
Revises: d5a8e3c1f7b2
Create Date: 2026-12-07 13:40:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = 'c4e8a2f6d159'
down_revision = 'd5a8e3c1f7b2'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.add_column(sa.Column('discount_threshold_fen', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('discount_off_fen', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('discount_percent', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('discount_cap_fen', sa.BigInteger(), nullable=True))
    with op.batch_alter_table('ordering_orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('discount_source', sa.String(length=24), nullable=False,
                                      server_default=''))
        batch_op.add_column(sa.Column('discount_name_zh', sa.String(length=48), nullable=False,
                                      server_default=''))
        batch_op.add_column(sa.Column('discount_name_en', sa.String(length=64), nullable=False,
                                      server_default=''))


def downgrade() -> None:
    with op.batch_alter_table('ordering_orders', schema=None) as batch_op:
        batch_op.drop_column('discount_name_en')
        batch_op.drop_column('discount_name_zh')
        batch_op.drop_column('discount_source')
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.drop_column('discount_cap_fen')
        batch_op.drop_column('discount_percent')
        batch_op.drop_column('discount_off_fen')
        batch_op.drop_column('discount_threshold_fen')
