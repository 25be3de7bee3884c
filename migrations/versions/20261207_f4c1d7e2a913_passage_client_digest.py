"""passage client digest (a gate client_id is bound to the content it was first sent with)

Revision ID: f4c1d7e2a913
Revises: 75ec36e25b33
Create Date: 2026-12-07 03:50:00
"""

from alembic import op
import sqlalchemy as sa


revision = 'f4c1d7e2a913'
down_revision = '75ec36e25b33'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('community_passages') as batch:
        batch.add_column(
            sa.Column('client_digest', sa.String(length=64), server_default='', nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table('community_passages') as batch:
        batch.drop_column('client_digest')
