"""repairs by admitted outside merchants (the admission and its commission on the ticket);
fee bills written off by the property manager

Revision ID: b8e2d4f6a1c3
Revises: a6d3c9e1f508
Create Date: 2026-12-07 16:00:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = 'b8e2d4f6a1c3'
down_revision = 'a6d3c9e1f508'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('repair_tickets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('admission_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('commission_bp', sa.Integer(), nullable=False,
                                      server_default='0'))
        batch_op.create_index(batch_op.f('ix_repair_tickets_admission_id'), ['admission_id'],
                              unique=False)
        batch_op.create_foreign_key('fk_repair_tickets_admission_id_community_service_admissions',
                                    'community_service_admissions', ['admission_id'], ['id'])
    with op.batch_alter_table('community_bills', schema=None) as batch_op:
        batch_op.alter_column('status', existing_type=sa.String(length=8),
                              type_=sa.String(length=16), existing_nullable=False)
        batch_op.add_column(sa.Column('written_off_at', sa.DateTime(timezone=True),
                                      nullable=True))
        batch_op.add_column(sa.Column('written_off_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('write_off_reason', sa.String(length=200), nullable=False,
                                      server_default=''))
        batch_op.create_foreign_key('fk_community_bills_written_off_by_id_users', 'users',
                                    ['written_off_by_id'], ['id'], ondelete='SET NULL')


def downgrade() -> None:
    with op.batch_alter_table('community_bills', schema=None) as batch_op:
        batch_op.drop_constraint('fk_community_bills_written_off_by_id_users', type_='foreignkey')
        batch_op.drop_column('write_off_reason')
        batch_op.drop_column('written_off_by_id')
        batch_op.drop_column('written_off_at')
        batch_op.alter_column('status', existing_type=sa.String(length=16),
                              type_=sa.String(length=8), existing_nullable=False)
    with op.batch_alter_table('repair_tickets', schema=None) as batch_op:
        batch_op.drop_constraint('fk_repair_tickets_admission_id_community_service_admissions', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_repair_tickets_admission_id'))
        batch_op.drop_column('commission_bp')
        batch_op.drop_column('admission_id')
