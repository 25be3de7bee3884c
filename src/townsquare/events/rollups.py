"""Daily rollups of exposure and click events (`exposure_days`): per local day, mini-app and slot
reason, kept up to date by the code that inserts those events, in the inserting transaction.

Why counters kept on write and not a job rolling closed days: every insert path already knows
which rows it inserted (the write-behind flush, a click, intake, the simulator's bulk path, and
the ORM for seeds and tests through `after_flush` below), so a counter is one upsert per distinct
(mini-app, day, reason) in the same commit: right at once, today included, and right for an event
that arrives late for a day long past (a job would have to find those again). What it costs:
one small upsert per flush, not per event.

The day is the local day of `settings.timezone` when the event is inserted. Changing the time
zone of a running platform needs `townsquare events rollup --rebuild` (readers asking for
another zone fall back to grouping the events themselves). `rebuild` recomputes days from the
events: the migration's backfill, that command, and the rare retried flush whose rows were partly
stored already.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, delete, event, func, insert, literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from townsquare.core.database import table_of
from townsquare.core.settings import get_settings
from townsquare.events.models import BehaviourEvent, EventType, ExposureDay

COUNTED = (EventType.EXPOSURE, EventType.CLICK)
_COUNTED_VALUES = frozenset(str(t) for t in COUNTED)
UPSERT_ROWS = 1000  # rows per multi-VALUES upsert (SQLite caps the bound parameters)

# (mini-app id, local day, slot reason) → [impressions, clicks]
Counts = dict[tuple[int, date, str], list[int]]


@lru_cache(maxsize=8)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def zone_name() -> str:
    """The time zone the rollups' days are in (the platform's)."""
    return get_settings().timezone


def local_day(at: datetime, zone: str | None = None) -> date:
    if at.tzinfo is None:  # stored UTC read back without its zone
        at = at.replace(tzinfo=UTC)
    return at.astimezone(_zone(zone or zone_name())).date()


def day_bounds(day: date, zone: str | None = None) -> tuple[datetime, datetime]:
    """The UTC instants where local `day` starts and the next one starts."""
    tz = _zone(zone or zone_name())
    start = datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)
    return start, end


def count(rows: Iterable[tuple[Any, datetime, int, str | None]], zone: str | None = None
          ) -> Counts:
    """Counts of (type, occurred_at, miniapp_id, slot_reason) rows; other types are skipped."""
    zone = zone or zone_name()
    counts: Counts = {}
    days: dict[datetime, date] = {}  # a flush's events share few distinct instants per second
    for kind, at, miniapp_id, reason in rows:
        value = str(kind)
        if value not in _COUNTED_VALUES:
            continue
        day = days.get(at)
        if day is None:
            day = days[at] = local_day(at, zone)
        slot = counts.setdefault((int(miniapp_id), day, reason or ""), [0, 0])
        slot[0 if value == EventType.EXPOSURE else 1] += 1
    return counts


def add(db: Session, counts: Mapping[tuple[int, date, str], list[int]]) -> None:
    """Add counts to the day rows in the caller's transaction (upserts in key order, so two
    writers lock rows in the same order)."""
    rows = [
        {"miniapp_id": m, "day": d, "slot_reason": r, "impressions": n[0], "clicks": n[1]}
        for (m, d, r), n in sorted(counts.items()) if n[0] or n[1]
    ]
    if not rows:
        return
    upsert = _upsert(db.get_bind().dialect.name)
    for i in range(0, len(rows), UPSERT_ROWS):
        db.execute(upsert, rows[i:i + UPSERT_ROWS])


@lru_cache(maxsize=4)
def _upsert(dialect_name: str) -> Any:
    """The upsert as one statement executed for many rows (SQLAlchemy batches them into
    multi-VALUES inserts itself): built and compiled once, where a `.values(rows)` statement
    was a new statement for every count of rows, compiled on every write-behind flush."""
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    table = table_of(ExposureDay)
    stmt = dialect.insert(table)
    return stmt.on_conflict_do_update(
        index_elements=["miniapp_id", "day", "slot_reason"],
        set_={"impressions": table.c.impressions + stmt.excluded.impressions,
              "clicks": table.c.clicks + stmt.excluded.clicks},
    )


def add_rows(db: Session, rows: Iterable[tuple[Any, datetime, int, str | None]]) -> None:
    """Count event rows just inserted and add them (`count` then `add`)."""
    add(db, count(rows))


def rebuild(db: Session, *, first: date, last: date, zone: str | None = None,
            miniapp_ids: Iterable[int] | None = None) -> int:
    """Recompute the day rows of local days `first`..`last` (of some mini-apps, or all) from
    the events, one grouped INSERT … SELECT per day. Returns the rows written."""
    zone = zone or zone_name()
    apps = sorted(set(miniapp_ids)) if miniapp_ids is not None else None
    events = table_of(BehaviourEvent)
    days = table_of(ExposureDay)
    shown = func.sum(case((events.c.type == EventType.EXPOSURE, 1), else_=0))
    clicked = func.sum(case((events.c.type == EventType.CLICK, 1), else_=0))
    written = 0
    day = first
    while day <= last:
        start, end = day_bounds(day, zone)
        gone = delete(days).where(days.c.day == day)
        where = [events.c.type.in_([str(t) for t in COUNTED]),
                 events.c.occurred_at >= start, events.c.occurred_at < end]
        if apps is not None:
            gone = gone.where(days.c.miniapp_id.in_(apps))
            where.append(events.c.miniapp_id.in_(apps))
        db.execute(gone)
        grouped = (
            select(events.c.miniapp_id, literal(day, days.c.day.type), events.c.slot_reason,
                   shown, clicked)
            .where(and_(*where))
            .group_by(events.c.miniapp_id, events.c.slot_reason)
        )
        result = db.execute(insert(days).from_select(
            ["miniapp_id", "day", "slot_reason", "impressions", "clicks"], grouped))
        written += max(result.rowcount or 0, 0)  # type: ignore[attr-defined]
        day += timedelta(days=1)
    return written


def rebuild_all(db: Session, *, zone: str | None = None) -> int:
    """Recompute every day that has exposure or click events (after a change of time zone)."""
    zone = zone or zone_name()
    db.execute(delete(table_of(ExposureDay)))
    span = db.execute(
        select(func.min(BehaviourEvent.occurred_at), func.max(BehaviourEvent.occurred_at))
        .where(BehaviourEvent.type.in_(COUNTED))
    ).one()
    if span[0] is None:
        return 0
    return rebuild(db, first=local_day(span[0], zone), last=local_day(span[1], zone), zone=zone)


@event.listens_for(Session, "after_flush")
def _count_orm_inserts(session: Session, flush_context: Any) -> None:
    """Events added through the ORM (seed data, tests) are counted like every other insert."""
    found = [
        (obj.type, obj.occurred_at, obj.miniapp_id, obj.slot_reason)
        for obj in session.new
        if isinstance(obj, BehaviourEvent) and str(obj.type) in _COUNTED_VALUES
    ]
    if found:
        add_rows(session, found)
