"""exposure day rollups (exposure_days: impressions and clicks per local day, mini-app and slot
reason), backfilled from the behaviour events; promises indexed by merchant

Revision ID: 3c9e1f2b7a54
Revises: 7a1c3e9b2d40
Create Date: 2026-12-07 06:40:00
"""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

from townsquare.core.database import UTCDateTime
from townsquare.core.settings import get_settings

revision = '3c9e1f2b7a54'
down_revision = '7a1c3e9b2d40'
branch_labels = None
depends_on = None

_events = sa.table(
    'behaviour_events',
    sa.column('type', sa.String()), sa.column('occurred_at', UTCDateTime()),
    sa.column('miniapp_id', sa.Integer()), sa.column('slot_reason', sa.String()),
)


def upgrade() -> None:
    days = op.create_table('exposure_days',
    sa.Column('miniapp_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('slot_reason', sa.String(length=32), nullable=False),
    sa.Column('impressions', sa.Integer(), nullable=False),
    sa.Column('clicks', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['miniapp_id'], ['miniapps.id'], name=op.f('fk_exposure_days_miniapp_id_miniapps')),
    sa.PrimaryKeyConstraint('miniapp_id', 'day', 'slot_reason', name=op.f('pk_exposure_days'))
    )
    op.create_index('ix_exposure_days_day', 'exposure_days', ['day'], unique=False)
    op.create_index('ix_promises_merchant', 'promises', ['merchant_id', 'ends_at'], unique=False)
    _backfill(days)


def _backfill(days: sa.Table) -> None:
    """Every local day (of the platform's time zone) that has exposures or clicks, one grouped
    INSERT … SELECT per day (`events.rollups.rebuild` does the same)."""
    bind = op.get_bind()
    counted = ('exposure', 'click')
    low, high = bind.execute(
        sa.select(sa.func.min(_events.c.occurred_at), sa.func.max(_events.c.occurred_at))
        .where(_events.c.type.in_(counted))
    ).one()
    if low is None:
        return
    zone = ZoneInfo(get_settings().timezone)
    day, last = low.astimezone(zone).date(), high.astimezone(zone).date()
    shown = sa.func.sum(sa.case((_events.c.type == 'exposure', 1), else_=0))
    clicked = sa.func.sum(sa.case((_events.c.type == 'click', 1), else_=0))
    while day <= last:
        start = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
        end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
        grouped = (
            sa.select(_events.c.miniapp_id, sa.literal(day, sa.Date()), _events.c.slot_reason,
                      shown, clicked)
            .where(_events.c.type.in_(counted), _events.c.occurred_at >= start,
                   _events.c.occurred_at < end)
            .group_by(_events.c.miniapp_id, _events.c.slot_reason)
        )
        bind.execute(sa.insert(days).from_select(
            ['miniapp_id', 'day', 'slot_reason', 'impressions', 'clicks'], grouped))
        day += timedelta(days=1)


def downgrade() -> None:
    op.drop_index('ix_promises_merchant', table_name='promises')
    op.drop_index('ix_exposure_days_day', table_name='exposure_days')
    op.drop_table('exposure_days')
