"""community repairs: tickets with their timeline, photos and lateness reminders, and each
community's targets (the technician role is a new CommunityRoleKind value: no schema change)

Revision ID: a7c3e9f1b285
Revises: a9e4c2b7d18f
Create Date: 2026-12-07 13:47:50.064702
"""

from alembic import op
import sqlalchemy as sa
import townsquare.core.database


revision = 'a7c3e9f1b285'
down_revision = 'a9e4c2b7d18f'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('repair_targets',
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('respond_minutes', sa.Integer(), nullable=False),
    sa.Column('complete_hours', sa.Integer(), nullable=False),
    sa.Column('auto_confirm_days', sa.Integer(), nullable=False),
    sa.Column('updated_at', townsquare.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_repair_targets_community_id_communities'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('community_id', name=op.f('pk_repair_targets'))
    )
    op.create_table('repair_tickets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=24), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=False),
    sa.Column('reporter_id', sa.Integer(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=64), nullable=False),
    sa.Column('category', sa.Enum('plumbing', 'electrical', 'doors_windows', 'appliance', 'lift', 'common_area', 'other', name='category', native_enum=False, length=16), nullable=False),
    sa.Column('place', sa.Enum('room', 'common', name='place', native_enum=False, length=8), nullable=False),
    sa.Column('location', sa.String(length=100), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('status', sa.Enum('reported', 'assigned', 'accepted', 'on_the_way', 'in_progress', 'awaiting_payment', 'done', 'confirmed', 'cancelled', name='status', native_enum=False, length=20), nullable=False),
    sa.Column('technician_id', sa.Integer(), nullable=True),
    sa.Column('price_fen', sa.Integer(), nullable=False),
    sa.Column('trade_no', sa.String(length=40), nullable=True),
    sa.Column('trade_attempt', sa.Integer(), nullable=False),
    sa.Column('work_note', sa.Text(), nullable=False),
    sa.Column('respond_by', townsquare.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('complete_by', townsquare.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('reported_at', townsquare.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('assigned_at', townsquare.core.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('accepted_at', townsquare.core.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('on_the_way_at', townsquare.core.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('started_at', townsquare.core.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('done_at', townsquare.core.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('paid_at', townsquare.core.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('confirmed_at', townsquare.core.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('auto_confirmed', sa.Boolean(), nullable=False),
    sa.Column('cancelled_at', townsquare.core.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('cancelled_by', sa.String(length=16), nullable=False),
    sa.Column('cancel_reason', sa.String(length=200), nullable=False),
    sa.Column('user_sub', sa.String(length=64), nullable=False),
    sa.Column('rating', sa.Integer(), nullable=True),
    sa.Column('rating_comment', sa.String(length=200), nullable=False),
    sa.Column('rated_at', townsquare.core.database.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_repair_tickets_community_id_communities'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_repair_tickets_household_id_households'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['reporter_id'], ['users.id'], name=op.f('fk_repair_tickets_reporter_id_users')),
    sa.ForeignKeyConstraint(['technician_id'], ['users.id'], name=op.f('fk_repair_tickets_technician_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_repair_tickets')),
    sa.UniqueConstraint('public_id', name=op.f('uq_repair_tickets_public_id')),
    sa.UniqueConstraint('reporter_id', 'idempotency_key', name=op.f('uq_repair_tickets_reporter_id_idempotency_key'))
    )
    with op.batch_alter_table('repair_tickets', schema=None) as batch_op:
        batch_op.create_index('ix_repair_tickets_community_status', ['community_id', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_repair_tickets_household_id'), ['household_id'], unique=False)
        batch_op.create_index('ix_repair_tickets_technician', ['technician_id', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_repair_tickets_trade_no'), ['trade_no'], unique=False)

    op.create_table('repair_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('from_status', sa.String(length=20), nullable=False),
    sa.Column('to_status', sa.String(length=20), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('actor_kind', sa.String(length=16), nullable=False),
    sa.Column('note', sa.String(length=200), nullable=False),
    sa.Column('at', townsquare.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_repair_events_actor_id_users')),
    sa.ForeignKeyConstraint(['ticket_id'], ['repair_tickets.id'], name=op.f('fk_repair_events_ticket_id_repair_tickets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_repair_events'))
    )
    with op.batch_alter_table('repair_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_repair_events_ticket_id'), ['ticket_id'], unique=False)

    op.create_table('repair_photos',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=24), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('size_bytes', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['ticket_id'], ['repair_tickets.id'], name=op.f('fk_repair_photos_ticket_id_repair_tickets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_repair_photos')),
    sa.UniqueConstraint('public_id', name=op.f('uq_repair_photos_public_id'))
    )
    with op.batch_alter_table('repair_photos', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_repair_photos_ticket_id'), ['ticket_id'], unique=False)

    op.create_table('repair_reminders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('sent_at', townsquare.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['ticket_id'], ['repair_tickets.id'], name=op.f('fk_repair_reminders_ticket_id_repair_tickets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_repair_reminders')),
    sa.UniqueConstraint('ticket_id', 'kind', name=op.f('uq_repair_reminders_ticket_id_kind'))
    )


def downgrade() -> None:
    op.drop_table('repair_reminders')
    with op.batch_alter_table('repair_photos', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_repair_photos_ticket_id'))

    op.drop_table('repair_photos')
    with op.batch_alter_table('repair_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_repair_events_ticket_id'))

    op.drop_table('repair_events')
    with op.batch_alter_table('repair_tickets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_repair_tickets_trade_no'))
        batch_op.drop_index('ix_repair_tickets_technician')
        batch_op.drop_index(batch_op.f('ix_repair_tickets_household_id'))
        batch_op.drop_index('ix_repair_tickets_community_status')

    op.drop_table('repair_tickets')
    op.drop_table('repair_targets')
