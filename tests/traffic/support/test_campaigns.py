"""Campaigns: the operator's validated drafts and state moves, eligibility by stage, tier and
category, idempotent enrolment with its promise, the enrolment limit, withdrawal and cancelling."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from tests.traffic.support_helpers import NOW, freeze, snapshot
from tests.traffic.world import build_world
from townsquare.core.clock import clock
from townsquare.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from townsquare.core.i18n import current_locale
from townsquare.miniapps.models import MiniApp
from townsquare.traffic.models import (
    Campaign,
    CampaignState,
    Channel,
    Promise,
    PromiseKind,
    PromiseState,
    TrafficProfile,
)
from townsquare.traffic.support import campaigns

TZ = "Asia/Shanghai"
TODAY = date(2026, 3, 11)  # NOW in Shanghai


@pytest.fixture
def world(database):
    freeze()
    return build_world(database)


def fields(**change):
    base = dict(title_zh="春季生鲜节", title_en="Spring fresh food week", description="全城生鲜",
                surfaces=["feed"], starts_on=TODAY, ends_on=TODAY + timedelta(days=6),
                eligible_stages=["mature"], min_tier="B", category_codes=["grocery"],
                impressions_per_miniapp=700, max_enrolments=None)
    return base | change


def make(database, world, state=CampaignState.OPEN, **change) -> str:
    with database.unit_of_work() as db:
        campaign = campaigns.create(db, actor=world.operator, timezone=TZ, **fields(**change))
        moves = {CampaignState.DRAFT: [], CampaignState.OPEN: ["open"],
                 CampaignState.CLOSED: ["open", "closed"]}[state]
        for move in moves:
            campaigns.set_state(db, actor=world.operator, campaign_public_id=campaign.public_id,
                                state=move, timezone=TZ)
        return campaign.public_id


def enrol(database, world, cmp, key, actor=None):
    actor = actor or (world.owner if key == "brand" else world.other_owner)
    with database.unit_of_work() as db:
        return campaigns.enrol_once(db, actor=actor, campaign_public_id=cmp,
                                    miniapp_public_id=world.app(key).public_id, timezone=TZ)


def test_create_validates_every_field(world, database):
    with database.unit_of_work() as db:
        db.add(Channel(slug="community", title_zh="社区", title_en="Community"))
    cmp = make(database, world, state=CampaignState.DRAFT, surfaces=["feed", "channel.community",
                                                                      "feed"])
    with database.unit_of_work() as db:
        campaign = db.scalar(select(Campaign).where(Campaign.public_id == cmp))
        assert campaign.surfaces == ["feed", "channel.community"]
        assert campaign.state == CampaignState.DRAFT and campaign.min_tier == "B"
        before = snapshot(db), db.scalar(select(Campaign.id).order_by(Campaign.id.desc()))
    bad = [
        {"title_zh": ""}, {"title_en": "x" * 65}, {"description": "\x00"}, {"surfaces": []},
        {"surfaces": ["nowhere"]}, {"surfaces": ["channel.unknown"]}, {"surfaces": ["topic.none"]},
        {"starts_on": TODAY + timedelta(days=7)}, {"ends_on": TODAY - timedelta(days=1),
                                                   "starts_on": TODAY - timedelta(days=3)},
        {"ends_on": TODAY + timedelta(days=800)},
        {"starts_on": TODAY - timedelta(days=400)}, {"eligible_stages": ["ancient"]},
        {"min_tier": "E"}, {"category_codes": ["spaceships"]}, {"impressions_per_miniapp": 0},
        {"impressions_per_miniapp": 1_000_001}, {"max_enrolments": 0},
        {"impressions_per_miniapp": True},
    ]
    for change in bad:
        with pytest.raises(ValidationFailed), database.unit_of_work() as db:
            campaigns.create(db, actor=world.operator, timezone=TZ, **fields(**change))
    with pytest.raises(PermissionDenied), database.unit_of_work() as db:
        campaigns.create(db, actor=world.owner, timezone=TZ, **fields())
    with database.unit_of_work() as db:
        assert (snapshot(db), db.scalar(select(Campaign.id).order_by(Campaign.id.desc()))) == before


def test_state_moves(world, database):
    cmp = make(database, world, state=CampaignState.DRAFT)

    def move(state, actor=None):
        with database.unit_of_work() as db:
            return campaigns.set_state(db, actor=actor or world.operator, campaign_public_id=cmp,
                                       state=state, timezone=TZ).state

    with pytest.raises(Conflict):
        move("closed")  # a draft opens first
    with pytest.raises(PermissionDenied):
        move("open", actor=world.owner)
    with pytest.raises(ValidationFailed):
        move("paused")
    assert move("open") == CampaignState.OPEN
    assert move("open") == CampaignState.OPEN  # a retry changes nothing
    assert move("closed") == CampaignState.CLOSED
    assert move("open") == CampaignState.OPEN
    assert move("cancelled") == CampaignState.CANCELLED
    for state in ("open", "closed", "draft"):
        with pytest.raises(Conflict):
            move(state)
    with pytest.raises(NotFound), database.unit_of_work() as db:
        campaigns.set_state(db, actor=world.operator, campaign_public_id="cmp_nope", state="open")


def test_eligibility_by_stage_tier_and_category(world, database):
    cmp = make(database, world)
    token = current_locale.set("en")
    try:
        with database.unit_of_work() as db:
            campaign = db.scalar(select(Campaign).where(Campaign.public_id == cmp))
            reasons = {key: campaigns.eligibility(db, campaign=campaign,
                                                  miniapp=db.get(MiniApp, app.id))
                       for key, app in world.apps.items()}
    finally:
        current_locale.reset(token)
    assert reasons["brand"] == [] and reasons["grocer"] == [] and reasons["faraway"] == []
    assert reasons["clinic"] == ["Its category is not part of this campaign."]
    assert reasons["lookalike"] == [
        "Its growth stage is Growing; this campaign is for Mature.",
        "Its tier is C; this campaign needs tier B or better.",
    ]
    assert reasons["newcomer"][1] == "It has no service tier yet; this campaign needs tier B or " \
                                     "better."
    assert len(reasons["declining"]) == 2


def test_enrol_creates_one_promise_for_the_local_dates(world, database):
    cmp = make(database, world, starts_on=TODAY - timedelta(days=1), surfaces=["feed", "search"])
    enrolment, created = enrol(database, world, cmp, "brand")
    again, created_again = enrol(database, world, cmp, "brand")
    assert created and not created_again and again.public_id == enrolment.public_id
    with database.unit_of_work() as db:
        [promise] = db.scalars(select(Promise)).all()
        assert (promise.kind, promise.source) == (PromiseKind.CAMPAIGN, f"campaign:{cmp}")
        assert (promise.surfaces, promise.requested) == (["feed", "search"], 700)
        assert promise.miniapp_id == world.app("brand").id
        # it started yesterday, so the promise runs from now to the end of the last local day
        assert promise.starts_at == NOW
        assert promise.ends_at == datetime(2026, 3, 17, 16, 0, tzinfo=UTC)  # 18th 00:00 Shanghai


def test_a_future_campaign_starts_at_local_midnight(world, database):
    cmp = make(database, world, starts_on=TODAY + timedelta(days=2),
               ends_on=TODAY + timedelta(days=2))
    enrol(database, world, cmp, "brand")
    with database.unit_of_work() as db:
        promise = db.scalar(select(Promise))
        assert promise.starts_at == datetime(2026, 3, 12, 16, 0, tzinfo=UTC)
        assert promise.ends_at - promise.starts_at == timedelta(days=1)


def test_enrolment_is_refused_cleanly(world, database):
    draft = make(database, world, state=CampaignState.DRAFT)
    closed = make(database, world, state=CampaignState.CLOSED)
    full = make(database, world, max_enrolments=1)
    open_ = make(database, world)
    enrol(database, world, full, "brand")
    with database.unit_of_work() as db:
        before = snapshot(db)
    cases = [
        (draft, "brand", world.owner, NotFound),  # merchants do not see drafts
        (closed, "brand", world.owner, Conflict),
        ("cmp_nosuchcampaign", "brand", world.owner, NotFound),
        (open_, "grocer", world.owner, NotFound),  # not the owner's mini-app
        (open_, "lookalike", world.other_owner, Conflict),  # not eligible
        (full, "grocer", world.other_owner, Conflict),  # the limit is reached
    ]
    for cmp, key, actor, error in cases:
        with pytest.raises(error):
            enrol(database, world, cmp, key, actor=actor)
    with pytest.raises(Conflict) as raised:
        enrol(database, world, open_, "lookalike")
    assert raised.value.code == "not_eligible" and len(raised.value.details) == 2
    with database.unit_of_work() as db:
        assert snapshot(db) == before


def test_an_ended_campaign_takes_no_enrolment(world, database):
    cmp = make(database, world, ends_on=TODAY)
    clock.freeze(datetime(2026, 3, 11, 16, 0, tzinfo=UTC))  # the 12th in Shanghai
    with pytest.raises(Conflict):
        enrol(database, world, cmp, "brand")


def test_withdraw_cancels_and_enrolling_again_reactivates(world, database):
    cmp = make(database, world, max_enrolments=1)
    enrol(database, world, cmp, "brand")
    with database.unit_of_work() as db:
        withdrawn = campaigns.withdraw(db, actor=world.owner, campaign_public_id=cmp,
                                       miniapp_public_id=world.app("brand").public_id)
        assert withdrawn.withdrawn_at == NOW
        assert db.scalar(select(Promise.state)) == PromiseState.CANCELLED
        campaigns.withdraw(db, actor=world.owner, campaign_public_id=cmp,
                           miniapp_public_id=world.app("brand").public_id)  # idempotent
        with pytest.raises(NotFound):
            campaigns.withdraw(db, actor=world.other_owner, campaign_public_id=cmp,
                               miniapp_public_id=world.app("grocer").public_id)
        with pytest.raises(NotFound):
            campaigns.withdraw(db, actor=world.other_owner, campaign_public_id=cmp,
                               miniapp_public_id=world.app("brand").public_id)
    enrol(database, world, cmp, "grocer")  # the freed place
    with pytest.raises(Conflict):
        enrol(database, world, cmp, "brand")  # full again
    with database.unit_of_work() as db:
        campaigns.withdraw(db, actor=world.other_owner, campaign_public_id=cmp,
                           miniapp_public_id=world.app("grocer").public_id)
    _, created = enrol(database, world, cmp, "brand")
    assert created
    with database.unit_of_work() as db:
        states = {p.miniapp_id: p.state for p in db.scalars(select(Promise))}
        assert states == {world.app("brand").id: PromiseState.ACTIVE,
                          world.app("grocer").id: PromiseState.CANCELLED}


def test_cancelling_withdraws_every_promise(world, database):
    cmp = make(database, world)
    enrol(database, world, cmp, "brand")
    enrol(database, world, cmp, "grocer")
    with database.unit_of_work() as db:
        campaigns.set_state(db, actor=world.operator, campaign_public_id=cmp, state="cancelled")
        assert set(db.scalars(select(Promise.state))) == {PromiseState.CANCELLED}


def test_open_for_lists_open_campaigns_with_reasons(world, database):
    shown = make(database, world)
    make(database, world, state=CampaignState.DRAFT)
    make(database, world, state=CampaignState.CLOSED)
    with database.unit_of_work() as db:
        db.delete(db.get(TrafficProfile, world.app("grocer").id))  # not profiled: live figures
        found = campaigns.open_for(db, actor=world.other_owner,
                                   merchant_public_id=world.app("grocer").merchant_public_id,
                                   timezone=TZ)
        assert [c.public_id for c, _ in found] == [shown]
        [(app, reasons)] = found[0][1]
        assert app.id == world.app("grocer").id and len(reasons) == 2  # now growing, no tier
        with pytest.raises(PermissionDenied):
            campaigns.open_for(db, actor=world.owner,
                               merchant_public_id=world.app("grocer").merchant_public_id)
        assert len(campaigns.list_all(db, actor=world.operator)) == 3
        with pytest.raises(PermissionDenied):
            campaigns.list_all(db, actor=world.owner)


@pytest.mark.postgres_only
def test_the_enrolment_limit_holds_under_concurrency(world, database):
    cmp = make(database, world, max_enrolments=1)
    keys = ["brand", "grocer", "faraway"] * 2
    barrier = threading.Barrier(len(keys))

    def one(key: str) -> bool:
        with database.sessions() as warm:
            warm.execute(select(1))
        barrier.wait()
        try:
            enrol(database, world, cmp, key)
        except Conflict as exc:
            assert exc.code == "campaign_full"
            return False
        return True

    with ThreadPoolExecutor(max_workers=len(keys)) as pool:
        results = list(pool.map(one, keys))
    with database.unit_of_work() as db:
        promises = list(db.scalars(select(Promise)))
    assert len(promises) == 1  # one mini-app got the place (its twin thread saw it enrolled)
    winner = next(k for k in keys if world.app(k).id == promises[0].miniapp_id)
    assert [k for k, ok in zip(keys, results, strict=True) if ok] == [winner, winner]
