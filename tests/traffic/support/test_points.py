"""The points ledger: earning rules pay once per period, redemption is idempotent and guarded,
settlement refunds the undelivered share once, and every rejected call changes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.traffic.support_helpers import LAST_WEEK, NOW, add_events, freeze, ledger_sum, snapshot
from tests.traffic.world import build_world
from townsquare.core.clock import clock
from townsquare.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from townsquare.events.models import EventType
from townsquare.miniapps.models import MiniApp, MiniAppKind, MiniAppVersion, VersionState
from townsquare.traffic.config import (
    DEFAULT_CONFIG,
    PointsRule,
    TrafficConfig,
    active,
    load,
    save,
)
from townsquare.traffic.models import (
    PointsEntry,
    PointsEntryKind,
    Promise,
    PromiseKind,
    PromiseState,
    Redemption,
    RedemptionState,
    TrafficConfigVersion,
)
from townsquare.traffic.support import points

TZ = "Asia/Shanghai"


@pytest.fixture
def world(database):
    freeze()
    return build_world(database)


def _entries(db, merchant_id):
    return list(db.scalars(select(PointsEntry).where(PointsEntry.merchant_id == merchant_id)
                           .order_by(PointsEntry.id)))


def _fund(database, app, amount):
    with database.unit_of_work() as db:
        points.earn(db, merchant_id=app.merchant_id, rule_code="test", points=amount,
                    reference=f"earn:test:{app.public_id}:{amount}")


def test_earn_is_once_per_reference(world, database):
    brand = world.app("brand")
    with database.unit_of_work() as db:
        first = points.earn(db, merchant_id=brand.merchant_id, rule_code="complete_profile",
                            points=200, reference="earn:complete_profile:x:once")
        again = points.earn(db, merchant_id=brand.merchant_id, rule_code="complete_profile",
                            points=200, reference="earn:complete_profile:x:once")
        assert first is not None and again is None
        assert (first.kind, first.delta, first.balance_after) == (PointsEntryKind.EARN, 200, 200)
        assert points.balance(db, merchant_id=brand.merchant_id) == 200
        assert points.balance(db, merchant_id=world.app("grocer").merchant_id) == 0
        with pytest.raises(ValidationFailed):
            points.earn(db, merchant_id=brand.merchant_id, rule_code="x", points=0,
                        reference="earn:x")


def test_award_pays_each_rule_once_per_period(world, database):
    with database.unit_of_work() as db:
        brand, lookalike = world.app("brand"), world.app("lookalike")
        # store pickup: the brand's published storefront offers it; the look-alike's says no
        for app, pickup in ((brand, True), (lookalike, False)):
            db.add(MiniAppVersion(miniapp_id=app.id, number=1, label="1.0", name=app.name,
                                  state=VersionState.PUBLISHED, config={"store_pickup": pickup}))
        # on-time streak last week: brand 10 fulfilled, a user cancellation does not matter
        add_events(db, brand, EventType.ORDER_FULFILLED, 10, LAST_WEEK)
        add_events(db, brand, EventType.ORDER_CANCELLED, 1, LAST_WEEK, cancelled_by="user")
        add_events(db, lookalike, EventType.ORDER_FULFILLED, 12, LAST_WEEK)  # … but one
        add_events(db, lookalike, EventType.ORDER_CANCELLED, 1, LAST_WEEK, cancelled_by="merchant")
        add_events(db, world.app("grocer"), EventType.ORDER_FULFILLED, 9, LAST_WEEK)  # too few
        add_events(db, world.app("clinic"), EventType.ORDER_FULFILLED, 10, NOW - timedelta(
            hours=20))  # this week: not yet
        # quick replies: newcomer median 5 min over 5; declining only 4; clinic median 11 min
        add_events(db, world.app("newcomer"), EventType.MESSAGE_RESPONSE, 5, LAST_WEEK,
                   response_seconds=300)
        add_events(db, world.app("declining"), EventType.MESSAGE_RESPONSE, 4, LAST_WEEK,
                   response_seconds=60)
        for seconds in (60, 60, 660, 700, 900):
            add_events(db, world.app("clinic"), EventType.MESSAGE_RESPONSE, 1, LAST_WEEK,
                       response_seconds=seconds)
        assert points.award(db, config=DEFAULT_CONFIG, now=NOW, timezone=TZ) == 6
        assert points.award(db, config=DEFAULT_CONFIG, now=NOW, timezone=TZ) == 0
        paid = {(e.rule, e.miniapp_id): e for e in db.scalars(select(PointsEntry))}
    ids = {key: app.id for key, app in world.apps.items()}
    # descriptions of 20+ characters: grocer, clinic, faraway
    assert set(paid) == {
        ("complete_profile", ids["grocer"]), ("complete_profile", ids["clinic"]),
        ("complete_profile", ids["faraway"]), ("store_pickup", ids["brand"]),
        ("on_time_streak", ids["brand"]), ("quick_replies", ids["newcomer"]),
    }
    streak = paid[("on_time_streak", ids["brand"])]
    assert streak.reference == f"earn:on_time_streak:{world.app('brand').public_id}:2026-W10"
    assert streak.delta == 50
    assert paid[("store_pickup", ids["brand"])].reference.endswith(":once")
    with database.unit_of_work() as db:
        assert points.balance(db, merchant_id=world.app("brand").merchant_id) == 150
        assert points.balance(db, merchant_id=world.app("grocer").merchant_id) == 200


def test_weekly_rules_pay_again_next_week_and_the_config_decides(world, database):
    brand = world.app("brand")
    config = TrafficConfig(points_rules=[PointsRule(code="on_time_streak", points=7,
                                                    period="week")])
    with database.unit_of_work() as db:
        add_events(db, brand, EventType.ORDER_FULFILLED, 10, LAST_WEEK)
        add_events(db, brand, EventType.ORDER_FULFILLED, 10, LAST_WEEK + timedelta(days=7))
        assert points.award(db, config=config, now=NOW, timezone=TZ) == 1
        assert points.award(db, config=config, now=NOW + timedelta(days=7), timezone=TZ) == 1
        assert points.award(db, config=config, now=NOW + timedelta(days=8), timezone=TZ) == 0
        assert points.balance(db, merchant_id=brand.merchant_id) == 14


def _redeem(database, world, key="k-1", app="brand", package="feed_small", actor=None):
    actor = actor or world.owner
    with database.unit_of_work() as db:
        found = points.redeem(db, actor=actor, merchant_public_id=world.app(app).merchant_public_id,
                              miniapp_public_id=world.app(app).public_id, package_code=package,
                              idempotency_key=key)
        return found.public_id


def test_redeem_charges_once_and_creates_the_promise(world, database):
    brand = world.app("brand")
    _fund(database, brand, 250)
    first = _redeem(database, world)
    assert _redeem(database, world) == first  # a retry: same redemption, no second charge
    with database.unit_of_work() as db:
        assert points.balance(db, merchant_id=brand.merchant_id) == 150
        entries = _entries(db, brand.merchant_id)
        assert [(e.kind, e.delta, e.balance_after) for e in entries] == [
            (PointsEntryKind.EARN, 250, 250), (PointsEntryKind.REDEEM, -100, 150)]
        assert entries[1].reference == f"redeem:{first}" and entries[1].rule == "feed_small"
        redemption = db.scalar(select(Redemption))
        assert (redemption.impressions, redemption.points, redemption.surface) == (300, 100, "feed")
        assert redemption.ends_at - redemption.starts_at == timedelta(days=7)
        promise = db.scalar(select(Promise))
        assert (promise.kind, promise.source) == (PromiseKind.POINTS, f"redemption:{first}")
        assert (promise.surfaces, promise.requested) == (["feed"], 300)
        assert (promise.starts_at, promise.ends_at) == (NOW, NOW + timedelta(days=7))
        assert promise.miniapp_id == brand.id and promise.merchant_id == brand.merchant_id
    second = _redeem(database, world, key="k-2")
    assert second != first
    with database.unit_of_work() as db:
        assert points.balance(db, merchant_id=brand.merchant_id) == 50
        assert ledger_sum(db, brand.merchant_id) == 50


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"key": ""}, ValidationFailed),
        ({"key": "x" * 65}, ValidationFailed),
        ({"key": "has space"}, ValidationFailed),
        ({"key": "nul\x00"}, ValidationFailed),
        ({"package": "nope"}, ValidationFailed),
        ({"package": "feed_large"}, Conflict),  # 500 points: more than the balance
        ({"app": "lookalike"}, PermissionDenied),  # owner does not act for that merchant
        ({"miniapp": "ma_doesnotexist00"}, NotFound),
        ({"miniapp": "grocer"}, NotFound),  # another merchant's mini-app
        ({"miniapp": "unlisted"}, Conflict),
        ({"key": "k-1", "package": "search_boost"}, Conflict),  # key reused for another request
        ({"merchant": "mer_nosuchmerchant"}, PermissionDenied),
    ],
)
def test_bad_redemptions_change_nothing(world, database, change, error):
    brand = world.app("brand")
    _fund(database, brand, 250)
    _redeem(database, world, key="k-1")
    with database.unit_of_work() as db:
        db.get(MiniApp, world.app("declining").id).merchant_id = brand.merchant_id
        db.get(MiniApp, world.app("declining").id).listed = False
    targets = {"unlisted": world.app("declining").public_id,
               "grocer": world.app("grocer").public_id}
    app = world.app(change.get("app", "brand"))
    miniapp = targets.get(change.get("miniapp"), change.get("miniapp", app.public_id))
    with database.unit_of_work() as db:
        before = snapshot(db)
    with pytest.raises(error), database.unit_of_work() as db:
        points.redeem(db, actor=world.owner,
                      merchant_public_id=change.get("merchant", app.merchant_public_id),
                      miniapp_public_id=miniapp, package_code=change.get("package", "feed_small"),
                      idempotency_key=change.get("key", "k-new"))
    with database.unit_of_work() as db:
        assert snapshot(db) == before
        assert points.balance(db, merchant_id=brand.merchant_id) == 150


def test_insufficient_balance_is_a_clear_conflict(world, database):
    with pytest.raises(Conflict) as raised, database.unit_of_work() as db:
        brand = world.app("brand")
        points.redeem(db, actor=world.owner, merchant_public_id=brand.merchant_public_id,
                      miniapp_public_id=brand.public_id, package_code="feed_small",
                      idempotency_key="first-try")
    assert raised.value.code == "insufficient_points"
    assert raised.value.params == {"balance": 0, "needed": 100}
    with database.unit_of_work() as db:
        assert snapshot(db)["redemptions"] == 0 and snapshot(db)["entries"] == 0


def _deliver(database, public_id, delivered):
    with database.unit_of_work() as db:
        promise = db.scalar(select(Promise).where(Promise.source == f"redemption:{public_id}"))
        promise.delivered = delivered


def test_settle_fulfils_or_refunds_the_undelivered_share_once(world, database):
    brand = world.app("brand")
    _fund(database, brand, 1000)
    full = _redeem(database, world, key="full")
    part = _redeem(database, world, key="part", package="search_boost")  # 200 points, 600 imp.
    none = _redeem(database, world, key="none")
    _deliver(database, full, 520)
    _deliver(database, part, 333)  # 267 short: ceil(200 × 267 / 600) = 89
    with database.unit_of_work() as db:
        assert points.settle(db, now=NOW + timedelta(days=6)) == 0  # nothing has ended yet
        assert points.balance(db, merchant_id=brand.merchant_id) == 600
    with database.unit_of_work() as db:
        assert points.settle(db, now=NOW + timedelta(days=7)) == 3
    with database.unit_of_work() as db:
        assert points.settle(db, now=NOW + timedelta(days=8)) == 0  # once
        by_id = {r.public_id: r for r in db.scalars(select(Redemption))}
        promises = {p.source: p.state for p in db.scalars(select(Promise))}
        assert (by_id[full].state, by_id[full].refunded_points) == (RedemptionState.FULFILLED, 0)
        assert (by_id[part].state, by_id[part].refunded_points) == (RedemptionState.REFUNDED, 89)
        assert (by_id[none].state, by_id[none].refunded_points) == (RedemptionState.REFUNDED, 100)
        assert promises == {f"redemption:{full}": PromiseState.FULFILLED,
                            f"redemption:{part}": PromiseState.EXPIRED,
                            f"redemption:{none}": PromiseState.EXPIRED}
        refunds = [e for e in _entries(db, brand.merchant_id) if e.kind == PointsEntryKind.REFUND]
        assert sorted((e.reference, e.delta) for e in refunds) == sorted(
            [(f"refund:{part}", 89), (f"refund:{none}", 100)])
        assert points.balance(db, merchant_id=brand.merchant_id) == 600 + 89 + 100
        assert ledger_sum(db, brand.merchant_id) == 789


def test_history_and_redemptions_are_only_the_merchants_own(world, database):
    brand = world.app("brand")
    _fund(database, brand, 300)
    _redeem(database, world, key="a")
    with database.unit_of_work() as db:
        history = points.history(db, actor=world.owner, merchant_public_id=brand.merchant_public_id)
        assert [e.kind for e in history] == [PointsEntryKind.REDEEM, PointsEntryKind.EARN]
        assert len(points.history(db, actor=world.operator,
                                  merchant_public_id=brand.merchant_public_id)) == 2
        rows = points.redemptions(db, actor=world.owner,
                                  merchant_public_id=brand.merchant_public_id)
        assert len(rows) == 1 and rows[0][1].requested == 300
        for reader in (world.other_owner, world.resident):
            with pytest.raises(PermissionDenied):
                points.history(db, actor=reader, merchant_public_id=brand.merchant_public_id)
            with pytest.raises(PermissionDenied):
                points.redemptions(db, actor=reader, merchant_public_id=brand.merchant_public_id)


def test_operator_adjustments(world, database):
    brand = world.app("brand")
    mer = brand.merchant_public_id
    with database.unit_of_work() as db:
        entry = points.adjust(db, actor=world.operator, merchant_public_id=mer, delta=40,
                              reason="补偿活动")
        assert (entry.kind, entry.balance_after, entry.note) == (
            PointsEntryKind.ADJUST, 40, "补偿活动")
        before = snapshot(db)
    bad = [
        (world.owner, 10, "mine", PermissionDenied),
        (world.operator, 0, "zero", ValidationFailed),
        (world.operator, 10, "  ", ValidationFailed),
        (world.operator, 10**9, "huge", ValidationFailed),
        (world.operator, -41, "below zero", Conflict),
    ]
    for actor, delta, reason, error in bad:
        with pytest.raises(error), database.unit_of_work() as db:
            points.adjust(db, actor=actor, merchant_public_id=mer, delta=delta, reason=reason)
    with database.unit_of_work() as db:
        assert snapshot(db) == before
        points.adjust(db, actor=world.operator, merchant_public_id=mer, delta=-40, reason="撤销")
        assert points.balance(db, merchant_id=brand.merchant_id) == 0


def _pickup_apps(db, app, n: int) -> list[int]:
    """`n` more listed mini-apps of the app's merchant, each a published storefront with store
    pickup: what a merchant farming the store_pickup rule would create."""
    ids, category_id = [], db.get(MiniApp, app.id).category_id
    for i in range(n):
        extra = MiniApp(merchant_id=app.merchant_id, category_id=category_id,
                        kind=MiniAppKind.EXTERNAL,
                        client_secret_digest="0" * 64, name=f"分店{i}", icon="🛒",
                        description="", tags=[], cities=["武汉"], listed=True)
        db.add(extra)
        db.flush()
        db.add(MiniAppVersion(miniapp_id=extra.id, number=1, label="1.0", name=extra.name,
                              state=VersionState.PUBLISHED, config={"store_pickup": True}))
        ids.append(extra.id)
    db.flush()
    return ids


def test_new_miniapps_cannot_mint_points_past_the_weekly_cap(world, database):
    brand = world.app("brand")
    config = TrafficConfig(points_rules=[PointsRule(code="store_pickup", points=100,
                                                    weekly_cap=200)])
    with database.unit_of_work() as db:
        _pickup_apps(db, brand, 5)
        assert points.award(db, config=config, now=NOW, timezone=TZ) == 2  # 200 of 500
        assert points.award(db, config=config, now=NOW, timezone=TZ) == 0  # same week: full
        assert points.balance(db, merchant_id=brand.merchant_id) == 200
    freeze_at = NOW + timedelta(days=7)  # next local week: room for two more, not five
    clock.freeze(freeze_at)
    with database.unit_of_work() as db:
        assert points.award(db, config=config, now=freeze_at, timezone=TZ) == 2
        assert points.balance(db, merchant_id=brand.merchant_id) == 400 == ledger_sum(
            db, brand.merchant_id)
        references = {e.reference for e in _entries(db, brand.merchant_id)}
        assert len(references) == 4 and all(r.endswith(":once") for r in references)


def test_the_default_rule_cap_is_one_award_a_week():
    rule = PointsRule(code="store_pickup", points=100)
    assert rule.cap == 100
    with pytest.raises(ValueError, match="weekly_cap"):
        PointsRule(code="store_pickup", points=100, weekly_cap=50)


def test_packages_cannot_be_cheaper_than_the_tier_incentives_allow():
    # defaults: a week's 460 points buy at most half of tier S's 3000 impressions
    assert DEFAULT_CONFIG.max_weekly_points() == 460 and not DEFAULT_CONFIG.economy_problems()
    for package in DEFAULT_CONFIG.packages:
        bought = package.impressions * DEFAULT_CONFIG.max_weekly_points() / package.points
        assert bought <= 0.5 * DEFAULT_CONFIG.tier_impressions["S"]
    data = DEFAULT_CONFIG.model_dump(mode="json")
    data["packages"][0] |= {"impressions": 500, "points": 100}  # today's demo rate: too cheap
    with pytest.raises(ValidationFailed) as caught:
        load(data)
    assert "feed_small: 500 impressions cost at least 154 points" in caught.value.render()
    # the demo's tiers (S 18 a cycle): its 87-impression package would cost 4,447 points
    data["tier_impressions"] = {"S": 18, "A": 9, "B": 4, "C": 0, "D": 0}
    data["packages"] = [data["packages"][0] | {"impressions": 87, "points": 4447}]
    assert load(data).package("feed_small").points == 4447
    data["packages"][0]["points"] = 4446
    with pytest.raises(ValidationFailed):
        load(data)


def test_a_version_stored_before_the_economy_rule_still_loads(database):
    data = DEFAULT_CONFIG.model_dump(mode="json")
    data["packages"][0] |= {"impressions": 500, "points": 100}
    with database.unit_of_work() as db:
        db.add(TrafficConfigVersion(version=1, config=data, active=True))
        db.flush()
        assert active(db).package("feed_small").impressions == 500  # planning keeps running
        with pytest.raises(ValidationFailed):  # … but saving it again is refused
            save(db, actor=None, data=data)
