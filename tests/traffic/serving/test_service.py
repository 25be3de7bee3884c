"""Serving: slot reasons, paced guaranteed slots, sponsored positions, the brand pin in search, the
new-merchant share in every prefix, and what each response records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, select

from tests.traffic.serving_data import (
    NOW,
    PLAN_END,
    PLAN_START,
    add_new_apps,
    add_plan,
    configure,
    delivered,
    exposures,
    freeze,
    legacy_ranking,
    reasons_for,
    serve,
)
from tests.traffic.world import CITY, OTHER_CITY, build_world
from townsquare.core.errors import NotFound, ValidationFailed
from townsquare.miniapps.shell import launch
from townsquare.traffic import topics
from townsquare.traffic.config import DAYPARTS
from townsquare.traffic.market import bids
from townsquare.traffic.models import (
    BidSpend,
    PlanAllocation,
    Promise,
    PromiseKind,
    SlotReason,
)
from townsquare.traffic.planning import service as planning
from townsquare.traffic.serving import cache as serving_cache
from townsquare.traffic.serving import exposure_writer, ranking
from townsquare.traffic.serving import service as serving


@pytest.fixture
def world(database):
    freeze()
    found = build_world(database)
    legacy_ranking(database, found)
    return found


def _ids(served) -> list[int]:
    return [item.card.id for item in served.items]


def test_feed_serves_the_city_organically_and_records_one_exposure_per_slot(
    database, settings, world
):
    served = serve(database, settings)
    city_apps = {a.id for k, a in world.apps.items() if k != "faraway"}
    assert set(_ids(served)) == city_apps  # every listed app of 武汉, none of 杭州
    assert [i.position for i in served.items] == list(range(1, len(city_apps) + 1))
    assert {i.reason for i in served.items} == {SlotReason.ORGANIC}
    assert (served.daypart, served.audience) == ("morning", "guest")
    assert all(i.click_url.startswith("/go/") for i in served.items)
    # quality leads among established apps: the certified brand (92) before the declining (30)
    assert _ids(served).index(world.app("brand").id) < _ids(served).index(
        world.app("declining").id
    )
    events = exposures(database)
    assert len(events) == len(served.items)
    assert [(e.miniapp_id, e.slot_reason, e.surface, e.city, e.audience, e.user_sub)
            for e in events] == [
        (i.card.id, "organic", "feed", CITY, "guest", "") for i in served.items
    ]
    assert len({e.event_id for e in events}) == len(events)
    # another city sees its own services
    assert _ids(serve(database, settings, city=OTHER_CITY)) == [world.app("faraway").id]


def test_a_signed_in_resident_is_counted_with_a_pseudonymous_sub(database, settings, world):
    served = serve(database, settings, user=world.resident)
    assert served.audience == "resident"
    events = exposures(database)
    first = served.items[0].card.public_id
    assert events[0].audience == "resident"
    assert events[0].user_sub == launch.pseudonymous_id(
        settings.effective_secret_key, world.resident.public_id, first
    )


def test_new_merchant_share_holds_in_every_prefix(database, settings, world):
    add_new_apps(database, 2)
    add_new_apps(database, 1, profile=False)  # no profile yet: new, with a neutral prior
    configure(database, world, new_merchant_min_share=0.4, feed_size=8)
    served = serve(database, settings)
    assert len(served.items) == 8
    new = [item.is_new for item in served.items]
    for k in range(1, len(new) + 1):
        assert sum(new[:k]) >= ranking.required_new(0.4, k), (k, new)
    assert sum(new) >= 3


def test_guaranteed_slots_follow_the_plan_most_behind_first_and_count_delivery(
    database, settings, world
):
    plan = add_plan(database, world, [
        ("declining", PromiseKind.TIER_INCENTIVE, 1400, 0),  # far behind
        ("newcomer", PromiseKind.COLD_START, 700, 0),
        ("clinic", PromiseKind.CAMPAIGN, 280, 0),
        ("lookalike", PromiseKind.POINTS, 140, 0),  # least behind: beyond the 3 slots
        ("grocer", PromiseKind.TIER_INCENTIVE, 1400, 1000),  # ahead of its pace: not served
    ])
    served = serve(database, settings)
    fixed = [(i.card.id, i.reason, i.promise_id) for i in served.items[:3]]
    assert fixed == [
        (world.app("declining").id, SlotReason.GUARANTEED, plan["declining"].promise_public_id),
        (world.app("newcomer").id, SlotReason.COLD_START, plan["newcomer"].promise_public_id),
        (world.app("clinic").id, SlotReason.CAMPAIGN, plan["clinic"].promise_public_id),
    ]
    rest = {i.card.id: i for i in served.items[3:]}
    assert rest[world.app("lookalike").id].reason == SlotReason.ORGANIC
    assert rest[world.app("grocer").id].reason == SlotReason.ORGANIC
    for key in ("declining", "newcomer", "clinic"):
        assert delivered(database, plan[key]) == (1, 1)
    assert delivered(database, plan["lookalike"]) == (0, 0)
    assert delivered(database, plan["grocer"]) == (1000, 1000)
    reasons = {e.miniapp_id: e.slot_reason for e in exposures(database)}
    assert reasons[world.app("newcomer").id] == "cold_start"
    assert reasons[world.app("clinic").id] == "campaign"


def test_pacing_stops_a_promise_once_it_catches_up(database, settings, world):
    # 4 of the week's 42 morning hours have passed at 10:00 on Monday: 21 × 4/42 = 2 due by now
    plan = add_plan(database, world, [("clinic", PromiseKind.TIER_INCENTIVE, 21, 0)])
    reasons = reasons_for(database, settings, world.app("clinic").id, 3)
    assert reasons == [SlotReason.GUARANTEED, SlotReason.GUARANTEED, SlotReason.ORGANIC]
    assert delivered(database, plan["clinic"]) == (2, 2)


def test_elapsed_share_counts_only_the_part_of_the_day(settings):
    share = serving.elapsed_share(starts_at=PLAN_START, ends_at=PLAN_END, now=NOW,
                                  part="morning", timezone=settings.timezone)
    assert share == pytest.approx(4 / 42)  # 06:00–10:00 of 7 × 6 morning hours
    assert serving.elapsed_share(starts_at=PLAN_START, ends_at=PLAN_END, now=NOW,
                                 part="evening", timezone=settings.timezone) == 0.0
    later = PLAN_END + timedelta(hours=1)
    assert serving.elapsed_share(starts_at=PLAN_START, ends_at=PLAN_END, now=later,
                                 part="night", timezone=settings.timezone) == 1.0


def test_guaranteed_slots_only_in_their_segment(database, settings, world):
    plan = add_plan(database, world, [("clinic", PromiseKind.TIER_INCENTIVE, 1400, 0)],
                    audience="resident")
    guest = serve(database, settings)
    assert {i.reason for i in guest.items} == {SlotReason.ORGANIC}
    resident = serve(database, settings, user=world.resident)
    assert resident.items[0].card.id == world.app("clinic").id
    assert resident.items[0].reason == SlotReason.GUARANTEED
    assert delivered(database, plan["clinic"]) == (1, 1)


def test_sponsored_items_sit_at_the_configured_positions_and_count_impressions(
    database, settings, world
):
    with database.unit_of_work() as db:
        bid = bids.place(db, actor=db.merge(world.other_owner),
                         miniapp_public_id=world.app("clinic").public_id, target_kind="surface",
                         target="feed", max_cpc_fen=200, daily_budget_fen=10_000)
        bid_id = bid.id
    served = serve(database, settings)
    third = served.items[2]
    assert (third.card.id, third.reason, third.sponsored) == (
        world.app("clinic").id, SlotReason.SPONSORED, True
    )
    assert third.bid_id == bid_id and third.price_fen and third.price_fen <= 200
    assert [i.card.id for i in served.items].count(world.app("clinic").id) == 1
    assert sum(i.sponsored for i in served.items) == 1
    with database.unit_of_work() as db:
        spend = db.scalar(select(BidSpend).where(BidSpend.bid_id == bid_id))
        assert spend.impressions == 1 and spend.spent_fen == 0  # paid per click, not per view
    assert exposures(database, miniapp_id=world.app("clinic").id)[0].slot_reason == "sponsored"


def test_search_pins_the_certified_brand_before_look_alikes(database, settings, world):
    served = serve(database, settings, surface="search", query="鲜丰水果")
    first = served.items[0]
    assert first.card.id == world.app("brand").id and first.official
    assert first.reason == SlotReason.ORGANIC and first.card.brand == "鲜丰水果"
    assert served.brand is not None and served.brand.name == "鲜丰水果"
    lookalike = next(i for i in served.items if i.card.id == world.app("lookalike").id)
    assert not lookalike.official and lookalike.position > 1
    assert {e.surface for e in exposures(database)} == {"search"}
    # an empty query shows and records nothing
    assert serve(database, settings, surface="search", query="  ").items == []
    assert len(exposures(database)) == len(served.items)


def test_channels_and_topics_serve_their_members(database, settings, world):
    with database.unit_of_work() as db:
        operator = db.merge(world.operator)
        topics.save_channel(db, actor=operator, slug="clinics", title_zh="看病",
                            title_en="Clinics", category_codes=["clinic"])
        topics.create_topic(db, actor=operator, slug="veg", title_zh="买菜", title_en="Veg",
                            description_zh="", description_en="", category_codes=[],
                            tags=["蔬菜"])
    channel = serve(database, settings, surface="channel.clinics")
    assert _ids(channel) == [world.app("clinic").id]
    topic = serve(database, settings, surface="topic.veg")
    assert set(_ids(topic)) == {world.app("grocer").id, world.app("newcomer").id}
    assert {e.surface for e in exposures(database)} == {"channel.clinics", "topic.veg"}
    with pytest.raises(NotFound):
        serve(database, settings, surface="channel.nothing")
    with pytest.raises(ValidationFailed):
        serve(database, settings, surface="elsewhere")


def test_a_plan_outside_its_period_guarantees_nothing(database, settings, world):
    add_plan(database, world, [("clinic", PromiseKind.TIER_INCENTIVE, 1400, 0)])
    later = datetime(2026, 3, 9, 2, 0, tzinfo=UTC)  # the next Monday: the plan has ended
    served = serve(database, settings, now=later)
    assert {i.reason for i in served.items} == {SlotReason.ORGANIC}


def test_default_city_is_the_first_city_with_listed_miniapps(database, world):
    with database.unit_of_work() as db:
        assert serving.cities(db) == [CITY, OTHER_CITY]
        assert serving.default_city(db) == CITY
    with pytest.raises(ValidationFailed):
        serving.clean_city("x" * 33)
    assert serving.clean_city("  ") is None


def test_serving_delivers_a_plan_made_by_the_planner(database, settings, world):
    with database.unit_of_work() as db:
        planning.run(db, actor=db.merge(world.operator), timezone=settings.timezone)
        allocation = db.scalars(select(PlanAllocation).order_by(PlanAllocation.id)).first()
        segment = (allocation.surface, allocation.city, allocation.daypart, allocation.audience)
        promise_id = db.get(Promise, allocation.promise_id).public_id
    assert segment[:2] == ("feed", CITY)
    # the next day, in the middle of the part of the day the planner chose for that promise
    local = datetime(2026, 3, 3, 3 + 6 * DAYPARTS.index(segment[2]),
                     tzinfo=ZoneInfo(settings.timezone))
    user = world.resident if segment[3] == "resident" else None
    served = serve(database, settings, user=user, now=local.astimezone(UTC))
    shown = [i for i in served.items if i.promise_id == promise_id]
    assert len(shown) == 1 and shown[0].reason == SlotReason.COLD_START
    assert shown[0].card.id == world.app("newcomer").id
    with database.unit_of_work() as db:
        assert db.scalar(select(Promise).where(Promise.public_id == promise_id)).delivered == 1


def test_cached_cards_reload_when_listings_or_plans_change(database, settings, world):
    before = set(_ids(serve(database, settings)))
    added = add_new_apps(database, 1)  # the count of listed mini-apps changes: reloaded
    after = set(_ids(serve(database, settings)))
    assert after == before | set(added)
    plan = add_plan(database, world, [("clinic", PromiseKind.TIER_INCENTIVE, 1400, 0)])
    served = serve(database, settings)  # a new plan is seen at once
    assert served.items[0].promise_id == plan["clinic"].promise_public_id


def test_a_new_plan_is_served_after_the_refresh_interval(database, settings, world, monkeypatch):
    moment = [1_000.0]
    monkeypatch.setattr(serving_cache, "monotonic", lambda: moment[0])
    timed = settings.model_copy(update={"serving_refresh_ms": 1_000})
    assert {i.reason for i in serve(database, timed).items} == {SlotReason.ORGANIC}
    plan = add_plan(database, world, [("clinic", PromiseKind.TIER_INCENTIVE, 1400, 0)])
    moment[0] += 0.9  # checked 0.9 s ago: the snapshot is used as it is
    assert {i.reason for i in serve(database, timed).items} == {SlotReason.ORGANIC}
    moment[0] += 0.2  # due: the stamp (newest plan id) changed, so it reloads
    served = serve(database, timed)
    assert served.items[0].promise_id == plan["clinic"].promise_public_id


def test_between_checks_a_guest_request_sends_no_statement(database, settings, world,
                                                            monkeypatch):
    moment = [1_000.0]
    monkeypatch.setattr(serving_cache, "monotonic", lambda: moment[0])
    quiet = settings.model_copy(update={"serving_refresh_ms": 1_000,
                                        "exposure_flush_ms": 3_600_000})
    add_plan(database, world, [("declining", PromiseKind.TIER_INCENTIVE, 1400, 0)])
    with database.unit_of_work() as db:
        bids.place(db, actor=db.merge(world.other_owner),
                   miniapp_public_id=world.app("clinic").public_id, target_kind="surface",
                   target="feed", max_cpc_fen=200, daily_budget_fen=10_000)
    statements: list[str] = []

    def seen(conn, cursor, statement, *rest):
        if not statement.startswith("BEGIN"):  # SQLite's BEGIN IMMEDIATE comes with the first
            statements.append(statement)

    event.listen(database.engine, "before_cursor_execute", seen)
    try:
        serve(database, quiet)  # loads the snapshot and the bids
        assert statements
        statements.clear()
        moment[0] += 0.5
        served = serve(database, quiet)  # guaranteed, sponsored and organic, all from memory
        assert {i.reason for i in served.items} >= {SlotReason.GUARANTEED, SlotReason.SPONSORED}
        assert statements == []  # no stamp, no plan, no bids, no writes: no lock taken
        moment[0] += 1.0
        serve(database, quiet)
        assert len(statements) == 2  # the stamp and the bids, once a second
    finally:
        event.remove(database.engine, "before_cursor_execute", seen)
        exposure_writer.close(database.engine)
