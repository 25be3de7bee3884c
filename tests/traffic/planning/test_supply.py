"""The supply forecast: a seasonal-naive mean of recent exposures, defaults without history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.traffic.plan_world import exposures
from tests.traffic.world import CITY, OTHER_CITY, build_world
from townsquare.core.clock import clock
from townsquare.events.models import EventType
from townsquare.traffic import config
from townsquare.traffic.models import Channel, Topic
from townsquare.traffic.planning import supply

NOW = datetime(2026, 3, 10, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai
CFG = config.DEFAULT_CONFIG
ZONE = "Asia/Shanghai"


def total(found: dict[str, int], prefix: str) -> int:
    return sum(n for key, n in found.items() if key.startswith(prefix))


def test_daypart_shares_cover_the_day():
    shares = supply.daypart_shares()
    assert sum(shares.values()) == pytest.approx(1.0)
    assert shares["night"] < shares["morning"] < shares["evening"]


def test_without_history_every_surface_and_city_gets_the_defaults(database):
    clock.freeze(NOW)
    build_world(database)
    with database.unit_of_work() as db:
        db.add(Channel(slug="community", title_zh="社区生活", title_en="Community life",
                       category_codes=["grocery"]))
        db.add(Topic(slug="old", title_zh="旧专题", title_en="Old", active=False))
        db.flush()
        found = supply.forecast(db, config=CFG, now=NOW, timezone=ZONE)
    # feed, search, the channel (not the inactive topic) × two cities × 4 parts × 2 audiences
    assert len(found) == 3 * 2 * 4 * 2
    assert not any(key.startswith("topic.") for key in found)
    per_city = CFG.plan_days * CFG.guaranteed_share / 2
    for city in (CITY, OTHER_CITY):
        feed = total(found, f"feed|{city}|")
        assert abs(feed - CFG.default_daily_impressions["feed"] * per_city) <= 8
        search = total(found, f"search|{city}|")
        assert abs(search - CFG.default_daily_impressions["search"] * per_city) <= 8
        channel = total(found, f"channel.community|{city}|")
        assert abs(channel - CFG.default_other_surface_impressions * per_city) <= 8
    resident = found[f"feed|{CITY}|evening|resident"]
    guest = found[f"feed|{CITY}|evening|guest"]
    assert resident / (resident + guest) == pytest.approx(0.7, abs=0.01)
    assert found[f"feed|{CITY}|night|resident"] < resident


def test_history_gives_the_mean_daily_exposures_over_the_days_seen(database):
    clock.freeze(NOW)
    world = build_world(database)
    first = NOW - timedelta(days=10)  # 12:00 local: afternoon
    with database.unit_of_work() as db:
        exposures(db, world, "brand", count=100, at=first)
        exposures(db, world, "grocer", count=50, at=NOW - timedelta(hours=16),  # 20:00 local
                  audience="guest")
        # no audience recorded (older events): split 70/30 like the defaults
        exposures(db, world, "clinic", count=20, at=NOW - timedelta(hours=16), audience="")
        # not counted: before the window, other event types, after now
        exposures(db, world, "brand", count=70, at=NOW - timedelta(days=CFG.forecast_days + 1))
        exposures(db, world, "brand", count=30, at=NOW - timedelta(hours=1),
                  type=EventType.CLICK)
        found = supply.forecast(db, config=CFG, now=NOW, timezone=ZONE)
        in_utc = supply.forecast(db, config=CFG, now=NOW, timezone="UTC")
    scale = CFG.plan_days * CFG.guaranteed_share / 10  # ten days of history, not fourteen
    assert found[f"feed|{CITY}|afternoon|resident"] == round(100 * scale)
    assert found[f"feed|{CITY}|evening|guest"] == round((50 + 6) * scale)
    assert found[f"feed|{CITY}|evening|resident"] == round(14 * scale)
    # a surface and city with history: the rest of its segments saw nothing and forecast nothing
    assert found[f"feed|{CITY}|morning|resident"] == 0
    assert total(found, f"feed|{CITY}|") == round(100 * scale) + round(56 * scale) + round(
        14 * scale)
    # without history the defaults still apply elsewhere
    assert total(found, f"feed|{OTHER_CITY}|") > 1000
    assert total(found, f"search|{CITY}|") > 1000
    # the part of the day is local time: 04:00 UTC is night in UTC, afternoon in Shanghai
    assert in_utc[f"feed|{CITY}|night|resident"] == round(100 * scale)
