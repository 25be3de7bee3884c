"""Which slot starts a rule offers from now on. Pure: no database, the clock passed in.

A slot is offered when it lies wholly inside the store's opening hours of its day (and inside
the rule's own daily window, when set), its day is not closed for the store or the rule, it
starts at least `lead_minutes` from now, and now is before its cut-off (D − cutoff_days at
cutoff_time, local). Whether a slot still has room is the database's question (holds.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Rule:
    slot_minutes: int = 15
    lead_minutes: int = 30
    cutoff_time: int | None = None
    cutoff_days: int = 0
    days_ahead: int = 2
    window_start: int | None = None
    window_end: int | None = None
    closed_days: frozenset[str] = field(default_factory=frozenset)


def _at(day: date, minute: int, zone: ZoneInfo) -> datetime:
    midnight = datetime.combine(day, time(0), tzinfo=zone)
    return (midnight + timedelta(minutes=minute)).astimezone(UTC)


def _windows(intervals: Sequence[Sequence[int]], rule: Rule) -> list[tuple[int, int]]:
    low = rule.window_start if rule.window_start is not None else 0
    high = rule.window_end if rule.window_end is not None else 1440
    found = []
    for start, end in intervals:
        a, b = max(int(start), low), min(int(end), high)
        if a < b:
            found.append((a, b))
    return found


def deadline(day: date, rule: Rule, zone: ZoneInfo) -> datetime | None:
    """The last moment a slot on `day` may be booked (None: only the lead time applies)."""
    if rule.cutoff_time is None:
        return None
    return _at(day - timedelta(days=rule.cutoff_days), rule.cutoff_time, zone)


def starts_on(day: date, *, hours: Mapping[str, Sequence[Sequence[int]]],
              store_closed: Sequence[str], rule: Rule, zone: ZoneInfo,
              now: datetime) -> list[datetime]:
    """The offered slot starts (UTC) on one local day."""
    if day.isoformat() in store_closed or day.isoformat() in rule.closed_days:
        return []
    last = deadline(day, rule, zone)
    if last is not None and now >= last:
        return []
    earliest = now + timedelta(minutes=rule.lead_minutes)
    found = []
    for open_at, close_at in _windows(hours.get(str(day.weekday()), []), rule):
        minute = open_at
        while minute + rule.slot_minutes <= close_at:
            start = _at(day, minute, zone)
            if start >= earliest:
                found.append(start)
            minute += rule.slot_minutes
    return found


def offered(*, hours: Mapping[str, Sequence[Sequence[int]]], store_closed: Sequence[str],
            rule: Rule, zone: ZoneInfo, now: datetime) -> list[datetime]:
    """Every offered slot start from today (local) through `days_ahead` days on."""
    today = now.astimezone(zone).date()
    found: list[datetime] = []
    for offset in range(rule.days_ahead + 1):
        found += starts_on(today + timedelta(days=offset), hours=hours,
                           store_closed=store_closed, rule=rule, zone=zone, now=now)
    return found


def is_offered(start: datetime, *, hours: Mapping[str, Sequence[Sequence[int]]],
               store_closed: Sequence[str], rule: Rule, zone: ZoneInfo,
               now: datetime) -> bool:
    """`start` is one of the rule's offered slot starts right now."""
    if start.tzinfo is None:
        return False
    day = start.astimezone(zone).date()
    today = now.astimezone(zone).date()
    if not 0 <= (day - today).days <= rule.days_ahead:
        return False
    return start.astimezone(UTC) in starts_on(day, hours=hours, store_closed=store_closed,
                                              rule=rule, zone=zone, now=now)
