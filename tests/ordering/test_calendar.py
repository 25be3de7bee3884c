"""The slot calendar (pure): opening hours, windows, lead time, cut-off and closed days."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from townsquare.ordering.slots import calendar

SHANGHAI = ZoneInfo("Asia/Shanghai")
HOURS = {str(d): [[480, 720], [1020, 1260]] for d in range(7)}  # 08-12, 17-21
MONDAY_10 = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)


def _local(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=SHANGHAI).astimezone(UTC)


def test_slots_fill_the_opening_hours_after_the_lead_time():
    rule = calendar.Rule(slot_minutes=30, lead_minutes=60, days_ahead=0)
    starts = calendar.offered(hours=HOURS, store_closed=[], rule=rule, zone=SHANGHAI,
                              now=MONDAY_10)
    assert starts[0] == _local(7, 11) and starts[1] == _local(7, 11, 30)
    assert _local(7, 12) not in starts  # 12:00-12:30 would end after closing
    assert starts[2] == _local(7, 17) and starts[-1] == _local(7, 20, 30)


def test_closed_days_and_the_rules_window():
    rule = calendar.Rule(days_ahead=1, window_start=1080, window_end=1140,
                         closed_days=frozenset({"2026-12-07"}))
    starts = calendar.offered(hours=HOURS, store_closed=[], rule=rule, zone=SHANGHAI,
                              now=MONDAY_10)
    assert starts == [_local(8, 18, m) for m in (0, 15, 30, 45)]
    assert calendar.offered(hours=HOURS, store_closed=["2026-12-08"], rule=rule,
                            zone=SHANGHAI, now=MONDAY_10) == []


def test_community_cut_off_the_evening_before():
    rule = calendar.Rule(slot_minutes=60, days_ahead=1, cutoff_time=22 * 60, cutoff_days=1,
                         window_start=1020, window_end=1140)
    before = calendar.offered(hours=HOURS, store_closed=[], rule=rule, zone=SHANGHAI,
                              now=_local(7, 21, 59))
    assert before == [_local(8, 17), _local(8, 18)]  # today's were cut off yesterday
    after = calendar.offered(hours=HOURS, store_closed=[], rule=rule, zone=SHANGHAI,
                             now=_local(7, 22))
    assert after == []
    assert not calendar.is_offered(_local(8, 17), hours=HOURS, store_closed=[], rule=rule,
                                   zone=SHANGHAI, now=_local(7, 22))


def test_is_offered_needs_a_real_start():
    rule = calendar.Rule()
    now = MONDAY_10
    assert calendar.is_offered(_local(7, 11), hours=HOURS, store_closed=[], rule=rule,
                               zone=SHANGHAI, now=now)
    for start in (_local(7, 11, 5), _local(7, 13), _local(7, 9), _local(10, 11),
                  _local(7, 11).replace(tzinfo=None), now + timedelta(minutes=15)):
        assert not calendar.is_offered(start, hours=HOURS, store_closed=[], rule=rule,
                                       zone=SHANGHAI, now=now)
