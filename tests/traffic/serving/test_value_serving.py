"""The serving path with today's defaults (issue 19, items 3 and 4), on SQLite and PostgreSQL:
the "value" ranking (guaranteed items placed among organic ones by expected good orders, relevant
pacing among the allocations behind) and the paid-traffic floors and share cap at serve time."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.traffic.serving_data import (
    LEGACY_ADS,
    NOW,
    add_plan,
    configure,
    delivered,
    freeze,
    serve,
)
from tests.traffic.world import build_world
from townsquare.traffic.market import bids
from townsquare.traffic.models import BidSpend, PromiseKind, SlotReason, TrafficProfile
from townsquare.traffic.serving import cache as serving_cache


@pytest.fixture
def world(database):
    freeze()
    return build_world(database)


def _place(database, world, key: str, cpc: int = 200) -> int:
    with database.unit_of_work() as db:
        return bids.place(db, actor=None, miniapp_public_id=world.app(key).public_id,
                          target_kind="surface", target="feed", max_cpc_fen=cpc,
                          daily_budget_fen=100_000).id


def _position(served, app_id: int) -> tuple[int, SlotReason]:
    return next((i.position, i.reason) for i in served.items if i.card.id == app_id)


def test_a_promise_is_delivered_where_its_value_puts_it(database, settings, world):
    plan = add_plan(database, world, [("declining", PromiseKind.TIER_INCENTIVE, 1400, 0)])
    served = serve(database, settings)
    # the declining shop (score 30) is promised impressions, and gets one, below better matches
    position, reason = _position(served, world.app("declining").id)
    assert reason == SlotReason.GUARANTEED
    assert position > 1
    assert served.items[0].card.id == world.app("brand").id  # score 92 leads
    assert delivered(database, plan["declining"]) == (1, 1)
    # the as-built ranking put the promise first
    configure(database, world, ranking="quality")
    assert _position(serve(database, settings), world.app("declining").id) == (
        1, SlotReason.GUARANTEED)
    assert delivered(database, plan["declining"]) == (2, 2)


def test_relevant_pacing_takes_the_valuable_promise_among_those_behind(database, settings,
                                                                      world):
    configure(database, world, max_guaranteed_slots=1)
    plan = add_plan(database, world, [
        ("declining", PromiseKind.TIER_INCENTIVE, 1400, 0),  # far behind, score 30
        ("grocer", PromiseKind.TIER_INCENTIVE, 140, 0),  # a few behind, score 80
    ])
    served = serve(database, settings)
    assert _position(served, world.app("grocer").id)[1] == SlotReason.GUARANTEED
    assert _position(served, world.app("declining").id)[1] == SlotReason.ORGANIC
    assert delivered(database, plan["grocer"]) == (1, 1)
    # once the grocer is on pace, the promise behind is served: both are kept
    for _ in range(14):  # 140 × 4/42 ≈ 13.3 due by now
        serve(database, settings)
    assert delivered(database, plan["declining"])[0] > 0
    # as built: most behind first
    configure(database, world, max_guaranteed_slots=1, ranking="quality")
    assert _position(serve(database, settings), world.app("declining").id)[1] == (
        SlotReason.GUARANTEED)


def test_a_score_below_the_floor_is_not_sold_a_slot_at_serve_time(database, settings, world):
    grocer = _place(database, world, "grocer")  # A, 80
    clinic = _place(database, world, "clinic", cpc=5_000)  # B, 70, bids 25×
    served = serve(database, settings)
    ads = [i.bid_id for i in served.items if i.sponsored]
    assert ads == [clinic, grocer]  # 200 × 0.676 < 5,000 × 0.541: the richer bid leads
    with database.unit_of_work() as db:  # the clinic's score falls below 60 after it bid
        db.get(TrafficProfile, world.app("clinic").id).quality = 59.0
    serving_cache.forget_caches()
    served = serve(database, settings)
    assert [i.bid_id for i in served.items if i.sponsored] == [grocer]
    assert _position(served, world.app("clinic").id)[1] == SlotReason.ORGANIC


def test_one_merchant_takes_at_most_its_share_of_a_targets_sponsored_impressions(
    database, settings, world
):
    grocer = _place(database, world, "grocer", cpc=5_000)
    clinic = _place(database, world, "clinic")
    with database.unit_of_work() as db:
        day = bids.local_day(NOW, settings.timezone)
        bids.add_impressions(db, {(grocer, day): 60, (clinic, day): 10})
    serving_cache.forget_caches()
    served = serve(database, settings)  # the grocer had 86 % of today's: over the 25 % cap
    assert [i.bid_id for i in served.items if i.sponsored] == [clinic]
    configure(database, world, ads_max_merchant_share=1.0)
    served = serve(database, settings)
    assert [i.bid_id for i in served.items if i.sponsored][0] == grocer
    with database.unit_of_work() as db:
        rows = {r.bid_id: r.impressions for r in db.scalars(select(BidSpend))}
    assert rows == {grocer: 61, clinic: 12}


def test_the_old_rules_still_sell_to_a_tier_c_bidder(database, settings, world):
    configure(database, world, **LEGACY_ADS)
    lookalike = _place(database, world, "lookalike")  # C, 55
    served = serve(database, settings)
    assert lookalike in [i.bid_id for i in served.items if i.sponsored]
    configure(database, world)  # today's defaults: tier B and a score of 60
    assert lookalike not in [i.bid_id for i in serve(database, settings).items if i.sponsored]
