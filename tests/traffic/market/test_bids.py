"""Paid exposure: placing bids (limits, tier floor, certified brand keywords, who may), the
sponsored picks of a request (auction, pacing, budgets, cities) and the spend accounting."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from tests.traffic.market_world import authorized_isv, snapshot
from tests.traffic.serving_data import LEGACY_ADS
from tests.traffic.world import CITY, OTHER_CITY, build_world
from townsquare.core.audit import AuditEntry
from townsquare.core.clock import clock
from townsquare.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from townsquare.miniapps.models import MiniApp
from townsquare.traffic import topics
from townsquare.traffic.config import DEFAULT_CONFIG
from townsquare.traffic.market import bids
from townsquare.traffic.models import AdClick, Bid, BidSpend, BidTarget, TrafficProfile

NOW = datetime(2026, 3, 10, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai: half the day has passed
TODAY = date(2026, 3, 10)


@pytest.fixture
def world(database):
    clock.freeze(NOW)
    return build_world(database)


# These tests pin the auction's mechanics under the old rules (tier ≥ C, bid × quality, no
# share cap), so the world's look-alike (tier C, 55) bids; the new floors, k = 2 and the share
# cap have their own tests (test_quality_floor.py and below).
LEGACY = DEFAULT_CONFIG.model_copy(update=LEGACY_ADS)


def _place(db, world, key, *, actor=None, kind="surface", target="feed", cpc=100,
           budget=10_000, **extra):
    extra.setdefault("config", LEGACY)
    return bids.place(db, actor=actor, miniapp_public_id=world.app(key).public_id,
                      target_kind=kind, target=target, max_cpc_fen=cpc,
                      daily_budget_fen=budget, **extra)


def _spend(database, bid_id):
    with database.unit_of_work() as db:
        row = db.scalar(select(BidSpend).where(BidSpend.bid_id == bid_id))
        return None if row is None else (row.budget_fen, row.spent_fen, row.clicks,
                                         row.impressions)


def _sponsored(db, **kwargs):
    args = dict(surface="feed", city=CITY, now=NOW, exclude=set(), slots=2,
                config=LEGACY)
    args.update(kwargs)
    return bids.sponsored(db, **args)


# -- keywords and placing --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "expected"),
    [("  ＦＲＵＩＴ   Shop ", "fruit shop"), ("水果", "水果"), ("Ａ　Ｂ", "a b"),
     ("x" * 20, "x" * 20)],
)
def test_keywords_are_normalised(raw, expected):
    assert bids.normalise_keyword(raw) == expected


@pytest.mark.parametrize("raw", ["", "   ", "x" * 21, "a\x00b", "a\tb", "a\nb", None, 7])
def test_bad_keywords_are_refused(raw):
    with pytest.raises(ValidationFailed):
        bids.normalise_keyword(raw)


def test_place_creates_then_updates_one_bid_and_audits(database, world):
    with database.unit_of_work() as db:
        first = _place(db, world, "brand", actor=world.owner, kind="keyword",
                       target="  ＦＲＵＩＴ ")
        assert (first.target_kind, first.target) == (BidTarget.KEYWORD, "fruit")
        bids.set_active(db, actor=world.owner, bid_public_id=first.public_id, active=False)
    with database.unit_of_work() as db:
        again = _place(db, world, "brand", actor=world.owner, kind="keyword", target="fruit",
                       cpc=150, budget=20_000)
        assert again.public_id == first.public_id
    with database.unit_of_work() as db:
        rows = list(db.scalars(select(Bid)))
        assert [(b.max_cpc_fen, b.daily_budget_fen, b.active) for b in rows] == \
            [(150, 20_000, True)]  # placing again also resumes it
        actions = [e.action for e in db.scalars(select(AuditEntry).order_by(AuditEntry.id))]
        assert actions == ["bid.create", "bid.pause", "bid.update"]


def test_surfaces_must_exist_and_search_takes_keywords_only(database, world):
    with database.unit_of_work() as db:
        topics.save_channel(db, actor=None, slug="life", title_zh="生活", title_en="Life",
                            category_codes=["grocery"])
        topics.create_topic(db, actor=None, slug="fruit", title_zh="水果", title_en="Fruit")
        topics.create_topic(db, actor=None, slug="gone", title_zh="旧", title_en="Old")
        topics.update_topic(db, actor=None, slug="gone", active=False)
    with database.unit_of_work() as db:
        for target in ("feed", "channel.life", "topic.fruit"):
            _place(db, world, "grocer", target=target)
    before = snapshot(database)
    for target, error in [("search", ValidationFailed), ("home", ValidationFailed),
                          ("channel.Life", ValidationFailed), ("channel.none", NotFound),
                          ("topic.gone", NotFound), ("topic.none", NotFound)]:
        with pytest.raises(error), database.unit_of_work() as db:
            _place(db, world, "grocer", target=target)
    with pytest.raises(ValidationFailed), database.unit_of_work() as db:
        _place(db, world, "grocer", kind="banner", target="feed")
    assert snapshot(database) == before


@pytest.mark.parametrize(
    ("cpc", "budget"),
    [(9, 10_000), (10_001, 20_000), (100, 99), (100, 10_000_001), (True, 10_000), (100, 1.5),
     (0, 10_000), (-5, 10_000)],
)
def test_money_outside_the_limits_is_refused_and_changes_nothing(database, world, cpc, budget):
    with database.unit_of_work() as db:
        _place(db, world, "grocer")
    before = snapshot(database)
    with pytest.raises(ValidationFailed), database.unit_of_work() as db:
        _place(db, world, "grocer", cpc=cpc, budget=budget)
    assert snapshot(database) == before


def test_limits_at_the_edges_are_accepted(database, world):
    with database.unit_of_work() as db:
        low = _place(db, world, "grocer", cpc=10, budget=10)
        assert (low.max_cpc_fen, low.daily_budget_fen) == (10, 10)
        top = _place(db, world, "grocer", kind="keyword", target="菜", cpc=10_000,
                     budget=10_000_000)
        assert (top.max_cpc_fen, top.daily_budget_fen) == (10_000, 10_000_000)


def test_the_tier_floor_keeps_low_and_unscored_mini_apps_out(database, world):
    before = snapshot(database)
    with pytest.raises(ValidationFailed, match="no tier"), database.unit_of_work() as db:
        _place(db, world, "newcomer", actor=world.other_owner)
    with pytest.raises(ValidationFailed) as refused, database.unit_of_work() as db:
        _place(db, world, "declining", actor=world.other_owner)
    assert refused.value.code == "tier_too_low"
    assert refused.value.params == {"minimum": "C", "tier": "D"}
    with pytest.raises(ValidationFailed) as refused, database.unit_of_work() as db:
        _place(db, world, "lookalike", actor=world.other_owner, config=DEFAULT_CONFIG)
    assert (refused.value.code, refused.value.params) == (
        "tier_too_low", {"minimum": "B", "tier": "C"})  # today's floor is B
    with database.unit_of_work() as db:  # tier B, but a score below the absolute floor
        db.get(TrafficProfile, world.app("clinic").id).quality = 58.4
    with pytest.raises(ValidationFailed) as refused, database.unit_of_work() as db:
        _place(db, world, "clinic", actor=world.other_owner, config=DEFAULT_CONFIG)
    assert (refused.value.code, refused.value.params) == (
        "score_too_low", {"least": "60", "score": "58"})
    assert snapshot(database) == before
    with database.unit_of_work() as db:  # tier C is enough under the old floor
        _place(db, world, "lookalike", actor=world.other_owner)
        _place(db, world, "grocer", actor=None, config=DEFAULT_CONFIG)  # A, 80: both floors


def test_who_may_bid(database, world, make_user):
    with database.unit_of_work() as db:
        db.get(MiniApp, world.app("declining").id).listed = False
        db.get(TrafficProfile, world.app("declining").id).tier = "A"
    before = snapshot(database)
    grocer_merchant = world.app("grocer").merchant_public_id
    cases = [
        (NotFound, dict(key="grocer", actor=world.owner)),  # another merchant's mini-app
        (NotFound, dict(key="grocer", actor=world.resident)),
        (NotFound, dict(key="grocer", actor=world.operator)),
        (NotFound, dict(key="brand", actor=world.owner, merchant_public_id=grocer_merchant)),
        (Conflict, dict(key="declining", actor=world.other_owner)),  # not listed
    ]
    for error, args in cases:
        with pytest.raises(error), database.unit_of_work() as db:
            _place(db, world, args.pop("key"), **args)
    with pytest.raises(NotFound), database.unit_of_work() as db:
        bids.place(db, actor=world.other_owner, miniapp_public_id="ma_\x00", target_kind="surface",
                   target="feed", max_cpc_fen=100, daily_budget_fen=1000)
    assert snapshot(database) == before
    isv = authorized_isv(database, make_user, merchant_public_id=grocer_merchant)
    with database.unit_of_work() as db:
        bid = _place(db, world, "grocer", actor=isv, merchant_public_id=grocer_merchant)
        assert bid.created_by_id == isv.id
        with pytest.raises(NotFound):  # the ISV acts for the grocer only
            _place(db, world, "clinic", actor=isv)


def test_a_certified_brand_keyword_belongs_to_its_merchant(database, world):
    before = snapshot(database)
    for keyword in ("鲜丰水果", "鲜丰水果 特价", "  鲜丰水果"):
        with pytest.raises(PermissionDenied) as refused, database.unit_of_work() as db:
            _place(db, world, "lookalike", actor=world.other_owner, kind="keyword",
                   target=keyword)
        assert refused.value.code == "brand_keyword"
    assert snapshot(database) == before
    with database.unit_of_work() as db:
        mine = _place(db, world, "brand", actor=world.owner, kind="keyword", target="鲜丰水果")
        generic = _place(db, world, "lookalike", actor=world.other_owner, kind="keyword",
                         target="水果")
        assert (mine.target, generic.target) == ("鲜丰水果", "水果")


# -- sponsored picks -------------------------------------------------------------------------
def test_auction_ranks_by_bid_times_quality_with_second_prices(database, world):
    with database.unit_of_work() as db:
        brand = _place(db, world, "brand", cpc=100)  # S, 92 → quality 9280 bp
        grocer = _place(db, world, "grocer", cpc=100)  # A, 80 → 8200 bp
        lookalike = _place(db, world, "lookalike", cpc=300)  # C, 55 → 5950 bp
        picks = _sponsored(db)
        # lookalike 300×5950 > brand 100×9280 > grocer 100×8200
        assert [(p.bid_id, p.miniapp_id, p.price_fen) for p in picks] == [
            (lookalike.id, world.app("lookalike").id, 156),  # ⌈928000 / 5950⌉
            (brand.id, world.app("brand").id, 89),  # ⌈820000 / 9280⌉
        ]
        assert [p.bid_id for p in _sponsored(db, slots=3)] == [lookalike.id, brand.id, grocer.id]
        assert _sponsored(db, slots=3)[-1].price_fen == DEFAULT_CONFIG.reserve_cpc_fen
        assert _sponsored(db, slots=0) == []
        # excluded mini-apps (already on the page) do not take part
        picks = _sponsored(db, exclude={world.app("lookalike").id})
        assert [(p.bid_id, p.price_fen) for p in picks] == [(brand.id, 89), (grocer.id, 10)]


def test_sponsored_skips_paused_unlisted_other_city_and_fallen_tiers(database, world):
    with database.unit_of_work() as db:
        brand = _place(db, world, "brand")
        paused = _place(db, world, "grocer")
        bids.set_active(db, actor=None, bid_public_id=paused.public_id, active=False)
        fallen = _place(db, world, "clinic")
        db.get(TrafficProfile, world.app("clinic").id).tier = "D"  # fell after bidding
        unlisted = _place(db, world, "lookalike")
        db.get(MiniApp, world.app("lookalike").id).listed = False
        far = _place(db, world, "faraway")
    with database.unit_of_work() as db:
        assert [p.bid_id for p in _sponsored(db, slots=5)] == [brand.id]
        assert [p.bid_id for p in _sponsored(db, slots=5, city=OTHER_CITY)] == [far.id]
        db.get(MiniApp, world.app("faraway").id).cities = []  # serves every city now
        db.flush()
        assert {p.bid_id for p in _sponsored(db, slots=5)} == {brand.id, far.id}
        assert {unlisted.id, fallen.id, paused.id}.isdisjoint(
            p.bid_id for p in _sponsored(db, slots=5))


def test_keyword_bids_serve_their_keyword_only(database, world):
    with database.unit_of_work() as db:
        keyword = _place(db, world, "grocer", kind="keyword", target="蔬菜")
        _place(db, world, "brand", target="feed")
        assert [p.bid_id for p in _sponsored(db, surface="search", keyword=" 蔬菜 ")] == \
            [keyword.id]
        assert _sponsored(db, surface="search", keyword="水果") == []
        assert _sponsored(db, surface="search", keyword="x" * 40) == []  # cannot be a keyword
        assert keyword.id not in [p.bid_id for p in _sponsored(db)]


def test_pacing_and_budget_hold_bids_back(database, world):
    with database.unit_of_work() as db:
        ahead = _place(db, world, "brand", cpc=100, budget=1_000)
        on_plan = _place(db, world, "grocer", cpc=100, budget=1_000)
        nearly = _place(db, world, "clinic", cpc=100, budget=1_000)
        db.add_all([
            # by noon half the budget may be spent: 500 spent is ahead of the plan
            BidSpend(bid_id=ahead.id, day=TODAY, budget_fen=1_000, spent_fen=500),
            BidSpend(bid_id=on_plan.id, day=TODAY, budget_fen=1_000, spent_fen=499),
            # yesterday's spend does not count today
            BidSpend(bid_id=nearly.id, day=TODAY - timedelta(days=1), budget_fen=1_000,
                     spent_fen=1_000),
        ])
        db.flush()
        assert [p.bid_id for p in _sponsored(db, slots=3)] == [on_plan.id, nearly.id]
    clock.freeze(NOW + timedelta(hours=11, minutes=59))  # 23:59: almost the whole day released
    with database.unit_of_work() as db:
        db.add(BidSpend(bid_id=nearly.id, day=TODAY, budget_fen=1_000, spent_fen=970))
        db.flush()
        picks = _sponsored(db, slots=3, now=clock.now())
        assert {p.bid_id for p in picks} == {ahead.id, on_plan.id, nearly.id}
        # 30 fen left: the bid is capped there, so no click can overdraw the budget
        assert all(p.price_fen <= 30 for p in picks if p.bid_id == nearly.id)
        db.execute(BidSpend.__table__.update().where(BidSpend.bid_id == nearly.id,
                                                     BidSpend.day == TODAY)
                   .values(spent_fen=1_000))
        assert nearly.id not in [p.bid_id for p in _sponsored(db, slots=3, now=clock.now())]


# -- accounting ------------------------------------------------------------------------------
def test_impressions_create_the_day_row_with_the_bid_budget(database, world):
    with database.unit_of_work() as db:
        bid = _place(db, world, "brand", budget=5_000)
        assert bids.count_impressions(db, bid_ids=[bid.id, bid.id, 999_999], now=NOW) == 2
    assert _spend(database, bid.id) == (5_000, 0, 0, 2)
    with database.unit_of_work() as db:
        bids.count_impressions(db, bid_ids=[bid.id], now=NOW)
        assert bids.count_impressions(db, bid_ids=[], now=NOW) == 0
    assert _spend(database, bid.id) == (5_000, 0, 0, 3)
    with database.unit_of_work() as db:  # the local day: 16:30 UTC is already tomorrow
        bids.count_impressions(db, bid_ids=[bid.id], now=NOW.replace(hour=16, minute=30))
        days = sorted(db.scalars(select(BidSpend.day)))
        assert days == [TODAY, TODAY + timedelta(days=1)]


def test_a_click_is_charged_once_and_never_above_the_budget(database, world):
    with database.unit_of_work() as db:
        bid = _place(db, world, "brand", cpc=100, budget=250)
    charges = []
    for token, price in [("t1", 100), ("t1", 100), ("t2", 100), ("t3", 100), ("t4", 100),
                         ("t5", 0)]:
        with database.unit_of_work() as db:
            charges.append(bids.charge_click(db, bid_id=bid.id, token_digest=token,
                                             price_fen=price, now=NOW, visitor=token))
    # t1 replayed: nothing; t3 pays what remains (50); t4 finds the budget spent
    assert charges == [100, 0, 100, 50, 0, 0]
    assert _spend(database, bid.id) == (250, 250, 5, 0)
    with database.unit_of_work() as db:
        clicks = {c.token_digest: c.price_fen for c in db.scalars(select(AdClick))}
        assert clicks == {"t1": 100, "t2": 100, "t3": 50, "t4": 0, "t5": 0}
        assert bids.charge_click(db, bid_id=999_999, token_digest="t9", price_fen=5, now=NOW) == 0


def test_bad_click_input_is_refused_and_changes_nothing(database, world):
    with database.unit_of_work() as db:
        bid = _place(db, world, "brand")
    before = snapshot(database)
    for token, price in [("", 10), ("x" * 65, 10), (None, 10), ("ok", -1), ("ok", 1.5),
                         ("ok", True)]:
        with pytest.raises(ValidationFailed), database.unit_of_work() as db:
            bids.charge_click(db, bid_id=bid.id, token_digest=token, price_fen=price, now=NOW,
                              visitor="v")
    assert snapshot(database) == before


def test_a_budget_edit_applies_to_the_rest_of_today_only(database, world):
    with database.unit_of_work() as db:
        bid = _place(db, world, "brand", cpc=100, budget=1_000)
        db.add(BidSpend(bid_id=bid.id, day=TODAY - timedelta(days=1), budget_fen=1_000,
                        spent_fen=1_000))
        bids.count_impressions(db, bid_ids=[bid.id], now=NOW)
    with database.unit_of_work() as db:
        _place(db, world, "brand", cpc=100, budget=3_000)
    with database.unit_of_work() as db:
        rows = {s.day: s.budget_fen for s in db.scalars(select(BidSpend))}
        assert rows == {TODAY - timedelta(days=1): 1_000, TODAY: 3_000}


def test_merchants_see_and_change_only_their_own_bids(database, world, make_user):
    with database.unit_of_work() as db:
        mine = _place(db, world, "brand", actor=world.owner)
        theirs = _place(db, world, "grocer", actor=world.other_owner)
        bids.count_impressions(db, bid_ids=[mine.id], now=NOW)
    brand_merchant = world.app("brand").merchant_public_id
    with database.unit_of_work() as db:
        listed = bids.for_merchant(db, actor=world.owner, merchant_public_id=brand_merchant,
                                   now=NOW)
        assert [(b.public_id, s.impressions if s else None) for b, s in listed] == \
            [(mine.public_id, 1)]
        assert [b.public_id for b, _s in bids.for_merchant(
            db, actor=world.operator, merchant_public_id=brand_merchant)] == [mine.public_id]
        with pytest.raises(PermissionDenied):
            bids.for_merchant(db, actor=world.other_owner, merchant_public_id=brand_merchant)
    before = snapshot(database)
    for actor in (world.owner, world.resident, world.operator):
        with pytest.raises(NotFound), database.unit_of_work() as db:
            bids.set_active(db, actor=actor, bid_public_id=theirs.public_id, active=False)
    assert snapshot(database) == before
    with database.unit_of_work() as db:
        assert bids.set_active(db, actor=world.owner, bid_public_id=mine.public_id,
                               active=False).active is False
