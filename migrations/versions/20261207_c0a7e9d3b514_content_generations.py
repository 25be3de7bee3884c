"""content generations (cached pages learn that the hub, channels or topics changed)

Revision ID: c0a7e9d3b514
Revises: 3c9e1f2b7a54
Create Date: 2026-12-07 06:40:00
"""

from alembic import op
import sqlalchemy as sa


revision = 'c0a7e9d3b514'
down_revision = '3c9e1f2b7a54'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'content_generations',
        sa.Column('name', sa.String(length=32), nullable=False),
        sa.Column('generation', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_content_generations')),
    )


def downgrade() -> None:
    op.drop_table('content_generations')
