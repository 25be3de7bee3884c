"""Growth stages: the pure rule at its boundaries, live computation from listing age and order
events, and the merchant's stage from its mini-apps' profiles."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.traffic.support_helpers import add_events, freeze
from tests.traffic.world import build_world
from townsquare.core.i18n import current_locale
from townsquare.events.models import EventType
from townsquare.miniapps.models import MiniApp, MiniAppVersion, VersionState
from townsquare.traffic.config import DEFAULT_CONFIG, StageRules, TrafficConfig
from townsquare.traffic.models import Stage, TrafficProfile
from townsquare.traffic.support import stages

RULES = StageRules()  # new < 30 days; window 28; mature ≥ 90 days & ≥ 100 orders; 0.6 × ≥ 20


def stage(days, window=0, previous=0, rules=RULES):
    return stages.stage_for(listed_days=days, orders_window=window, orders_previous=previous,
                            rules=rules)


@pytest.mark.parametrize(
    ("days", "window", "previous", "expected"),
    [
        (0, 0, 0, Stage.NEW),
        (29, 500, 500, Stage.NEW),  # new wins over every other rule
        (30, 0, 0, Stage.GROWING),
        (89, 500, 0, Stage.GROWING),  # old enough only from 90 days
        (90, 99, 0, Stage.GROWING),  # busy enough only from 100 orders
        (90, 100, 0, Stage.MATURE),
        (400, 100, 150, Stage.MATURE),  # 100 ≥ 0.6 × 150 = 90: not declining
        (400, 89, 150, Stage.DECLINING),
        (60, 11, 20, Stage.DECLINING),  # 11 < 12 with exactly the minimum previous orders
        (60, 10, 19, Stage.GROWING),  # too few previous orders to call it a decline
        (60, 12, 20, Stage.GROWING),  # 12 is not below 0.6 × 20
    ],
)
def test_rule_boundaries(days, window, previous, expected):
    found, detail = stage(days, window, previous)
    assert found == expected
    assert detail["rule"] == expected.value
    assert (detail["listed_days"], detail["orders_window"], detail["orders_previous"]) == (
        days, window, previous)


def test_rules_come_from_the_configuration():
    strict = StageRules(new_max_days=7, mature_min_days=10, mature_min_orders=5)
    assert stage(10, 5, 0, strict)[0] == Stage.MATURE
    assert stage(8, 5, 0, strict)[0] == Stage.GROWING
    assert stage(10, 5, 0)[0] == Stage.NEW


def test_explanation_names_the_rule_and_its_figures():
    token = current_locale.set("en")
    try:
        found, detail = stage(400, 89, 150)
        text = stages.explain(found, detail)
        assert "89" in text and "150" in text and "60%" in text and "declining" in text
        assert "mature" in stages.explain(*stage(120, 130, 0))
        assert stages.explain("growing", {}) == "Growing"  # an old detail without figures
    finally:
        current_locale.reset(token)
    assert "成熟" in stages.explain(*stage(120, 130, 0))


@pytest.fixture
def world(database):
    freeze()
    return build_world(database)


def test_compute_from_age_and_orders(world, database):
    now = freeze()
    with database.unit_of_work() as db:
        # brand (400 days): 120 orders recently → mature; grocer (300 days): 30 now, 100 before
        add_events(db, world.app("brand"), EventType.ORDER_PLACED, 120, now - timedelta(days=3))
        add_events(db, world.app("grocer"), EventType.ORDER_PLACED, 30, now - timedelta(days=3))
        add_events(db, world.app("grocer"), EventType.ORDER_PLACED, 100, now - timedelta(days=40))
        # too old to count, and other event types never count
        add_events(db, world.app("clinic"), EventType.ORDER_PLACED, 500, now - timedelta(days=60))
        add_events(db, world.app("clinic"), EventType.VISIT, 500, now - timedelta(days=1))
        add_events(db, world.app("brand"), EventType.ORDER_PLACED, 50, now + timedelta(hours=1))
        result = stages.compute(db, config=DEFAULT_CONFIG, now=now)
    assert set(result) == {a.id for a in world.apps.values()}
    assert result[world.app("brand").id][0] == Stage.MATURE
    assert result[world.app("brand").id][1]["orders_window"] == 120
    assert result[world.app("grocer").id][0] == Stage.DECLINING
    assert result[world.app("grocer").id][1]["orders_previous"] == 100
    assert result[world.app("clinic").id][0] == Stage.GROWING
    assert result[world.app("clinic").id][1]["orders_window"] == 0
    assert result[world.app("newcomer").id][0] == Stage.NEW
    assert result[world.app("newcomer").id][1]["listed_days"] == 5


def test_the_platforms_trade_records_win_over_self_reported_orders(world, database):
    """brand reports 150 orders itself but the platform saw 20 paid trades: 20 count (not
    mature); grocer takes no payment through the platform: its own 120 orders count."""
    now = freeze()
    with database.unit_of_work() as db:
        add_events(db, world.app("brand"), EventType.ORDER_PLACED, 150, now - timedelta(days=3))
        for i in range(20):
            add_events(db, world.app("brand"), EventType.ORDER_PLACED, 1,
                       now - timedelta(days=2, minutes=i), event_id=f"platform:trade:{i}:paid")
        add_events(db, world.app("grocer"), EventType.ORDER_PLACED, 120, now - timedelta(days=3))
        result = stages.compute(db, config=DEFAULT_CONFIG, now=now)
    assert result[world.app("brand").id][1]["orders_window"] == 20
    assert result[world.app("brand").id][0] == Stage.GROWING
    assert result[world.app("grocer").id][1]["orders_window"] == 120


def test_age_counts_from_the_first_publication_and_unlisted_apps_are_skipped(world, database):
    now = freeze()
    with database.unit_of_work() as db:
        brand = db.get(MiniApp, world.app("brand").id)
        for number, (state, days) in enumerate(
            [(VersionState.SUPERSEDED, 10), (VersionState.PUBLISHED, 2)], start=1
        ):
            db.add(MiniAppVersion(miniapp_id=brand.id, number=number, label=f"1.{number}",
                                  name=brand.name, state=state,
                                  decided_at=now - timedelta(days=days)))
        db.get(MiniApp, world.app("declining").id).listed = False
        db.flush()
        result = stages.compute(db, config=DEFAULT_CONFIG, now=now)
    assert result[world.app("brand").id][1]["listed_days"] == 10  # not 400 (creation)
    assert result[world.app("brand").id][0] == Stage.NEW
    assert world.app("declining").id not in result


def test_compute_for_one_merchant_and_with_other_rules(world, database):
    now = freeze()
    config = TrafficConfig(stages=StageRules(new_max_days=3))
    with database.unit_of_work() as db:
        result = stages.compute(db, config=config, now=now,
                                merchant_id=world.app("newcomer").merchant_id)
    assert list(result) == [world.app("newcomer").id]
    assert result[world.app("newcomer").id][0] == Stage.GROWING


def test_merchant_stage_is_the_most_advanced_of_its_listed_apps(world, database):
    assert stages.ORDER == (Stage.NEW, Stage.GROWING, Stage.MATURE, Stage.DECLINING)
    brand = world.app("brand")
    with database.unit_of_work() as db:
        assert stages.merchant_stage(db, merchant_id=brand.merchant_id) == Stage.MATURE
        # a second, new mini-app of the same merchant does not pull it back
        extra = MiniApp(merchant_id=brand.merchant_id, category_id=db.get(
            MiniApp, brand.id).category_id, kind="external", client_secret_digest="0" * 64,
            name="鲜丰二店", listed=True)
        db.add(extra)
        db.flush()
        db.add(TrafficProfile(miniapp_id=extra.id, merchant_id=brand.merchant_id,
                              stage=Stage.NEW))
        db.flush()
        assert stages.merchant_stage(db, merchant_id=brand.merchant_id) == Stage.MATURE
        db.get(TrafficProfile, extra.id).stage = Stage.DECLINING
        db.flush()
        assert stages.merchant_stage(db, merchant_id=brand.merchant_id) == Stage.DECLINING
        extra.listed = False  # an unlisted app's stale profile no longer counts
        db.flush()
        assert stages.merchant_stage(db, merchant_id=brand.merchant_id) == Stage.MATURE
        assert stages.merchant_stage(db, merchant_id=999_999) is None


def test_for_merchant_reads_profiles_and_falls_back_to_live(world, database):
    now = freeze()
    newcomer = world.app("newcomer")
    with database.unit_of_work() as db:
        db.get(TrafficProfile, newcomer.id).stage_detail = {"rule": "new", "listed_days": 5}
        merchant, rows = stages.for_merchant(db, actor=world.other_owner,
                                             merchant_public_id=newcomer.merchant_public_id,
                                             config=DEFAULT_CONFIG, now=now)
        assert [(a.id, s, d) for a, s, d in rows] == [
            (newcomer.id, Stage.NEW, {"rule": "new", "listed_days": 5})]
        db.delete(db.get(TrafficProfile, newcomer.id))
        db.flush()
        _, rows = stages.for_merchant(db, actor=world.other_owner,
                                      merchant_public_id=newcomer.merchant_public_id,
                                      config=DEFAULT_CONFIG, now=now)
        assert rows[0][1] == Stage.NEW and rows[0][2]["new_max_days"] == 30
        assert db.scalar(select(TrafficProfile).where(
            TrafficProfile.miniapp_id == newcomer.id)) is None  # reading never writes
