"""The demo city's traffic: a channel, topics (one application approved, one waiting), a campaign
with enrolments, a grocery campaign with a discount (满 30 元减 5 元) the demo grocery shop joined,
points earned and one redemption, a few bids, then the first serving plan.

Everything goes through the real services (as the operator, the merchants or the system), so the
demo shows only what the product itself could have produced. It works on any seeded world: the
categories, merchants and mini-apps it uses are looked up, not assumed.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from datetime import timedelta

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from townsquare.accounts.models import User
from townsquare.core.clock import clock
from townsquare.core.errors import TownsquareError
from townsquare.core.settings import Settings
from townsquare.merchants.models import Category, Merchant, MerchantStaff
from townsquare.miniapps.models import MiniApp, Template
from townsquare.traffic import config as traffic_config
from townsquare.traffic import profiles, topics
from townsquare.traffic.market import auction, bids
from townsquare.traffic.models import ServingPlan, Stage, TrafficProfile
from townsquare.traffic.planning import service as planning
from townsquare.traffic.planning import supply
from townsquare.traffic.support import campaigns, points

CHANNEL_CATEGORIES = ("community", "housekeeping", "errands", "grocery")
GROCERY_TAGS = ["买菜", "蔬菜", "水果", "生鲜"]
MEAL_TAGS = ["点餐", "午餐", "自提", "堂食"]
CLINIC_CATEGORIES = ("clinic", "medicine", "health")
KEYWORDS = ("买菜", "水果", "送药上门", "家政保洁")


def _user(db: Session, username: str) -> User | None:
    return db.scalar(select(User).where(User.username == username))


def _demo_merchant(db: Session) -> Merchant | None:
    """The merchant of the demo's "merchant" login, else the first one with a listed mini-app."""
    merchant_id = db.scalar(
        select(MerchantStaff.merchant_id).join(User, User.id == MerchantStaff.user_id)
        .where(User.username == "merchant").limit(1)
    ) or db.scalar(select(MiniApp.merchant_id).where(MiniApp.listed).order_by(MiniApp.id))
    return db.get(Merchant, merchant_id) if merchant_id else None


def _listed(db: Session) -> list[tuple[MiniApp, TrafficProfile | None]]:
    rows = db.execute(
        select(MiniApp, TrafficProfile)
        .outerjoin(TrafficProfile, TrafficProfile.miniapp_id == MiniApp.id)
        .where(MiniApp.listed).order_by(MiniApp.id)
    )
    return [(app, profile) for app, profile in rows]


def _topics(db: Session, operator: User | None, codes: set[str], rng: random.Random,
            apps: list[tuple[MiniApp, TrafficProfile | None]]) -> None:
    topics.save_channel(db, actor=operator, slug="community", title_zh="社区生活",
                        title_en="Community life",
                        category_codes=[c for c in CHANNEL_CATEGORIES if c in codes])
    groceries = topics.create_topic(
        db, actor=operator, slug="groceries", title_zh="买菜", title_en="Buy groceries",
        description_zh="附近的生鲜、蔬果和粮油，送货上门或到店自提。",
        description_en="Fresh food, fruit and vegetables nearby, delivered or picked up.",
        category_codes=[c for c in ("grocery",) if c in codes], tags=GROCERY_TAGS,
    )
    if "restaurant" in codes:  # the demo's restaurant shops take pre-orders for pickup
        topics.create_topic(
            db, actor=operator, slug="meals", title_zh="点餐自提", title_en="Order food",
            description_zh="附近餐馆提前点餐，到店报号取餐，或预订堂食。",
            description_en="Order ahead from restaurants nearby: pick up without queueing, or "
                           "book a table.",
            category_codes=["restaurant"], tags=MEAL_TAGS,
        )
    clinics = topics.create_topic(
        db, actor=operator, slug="clinics", title_zh="看病问诊", title_en="See a doctor",
        description_zh="在线问诊、买药和健康服务。",
        description_en="Online consultations, medicine and health services.",
        category_codes=[c for c in CLINIC_CATEGORIES if c in codes],
    )
    # Applications come from mini-apps outside the topic's categories (an errand runner that
    # delivers groceries, say); one is approved, one waits for the operator.
    def outsider(topic, prefer: str, skip: set[int]) -> MiniApp | None:
        pool = [app for app, _ in apps
                if app.category.code not in topic.category_codes and app.id not in skip]
        preferred = [app for app in pool if app.category.code == prefer]
        return rng.choice(preferred or pool) if pool else None

    grocer = outsider(groceries, "errands", set())
    if grocer is not None:
        member = topics.apply(db, actor=None, topic_slug=groceries.slug,
                              miniapp_public_id=grocer.public_id,
                              note="我们也提供生鲜代买和送货上门。")
        topics.decide(db, actor=operator, member_public_id=member.public_id, approve=True)
    helper = outsider(clinics, "housekeeping", {grocer.id} if grocer else set())
    if helper is not None:
        topics.apply(db, actor=None, topic_slug=clinics.slug, miniapp_public_id=helper.public_id,
                     note="我们提供陪诊和代取药服务。")


def _fit_config(db: Session, operator: User | None, config: traffic_config.TrafficConfig,
                feed: int) -> traffic_config.TrafficConfig:
    """The defaults suit a busy city; a small demo market's feed could not keep them. Scale the
    tier incentives to a third of the feed's forecast and the cold-start pool to a sixth (points
    and campaigns need the rest), as an operator would, and save that as a new version. Exposure
    packages shrink by the tiers' factor, so points keep their exchange rate against the tier
    incentives (a package's price is raised where rounding would make it cheaper)."""
    tiers = Counter(t for t in db.scalars(select(TrafficProfile.tier)) if t)
    asked = sum(config.tier_impressions.get(t, 0) * n for t, n in tiers.items())
    factor = feed / 3 / asked if asked else 1.0
    pool = min(config.cold_start_pool, int(round(feed / 6, -1)))
    if factor >= 1 and pool == config.cold_start_pool:
        return config
    factor = min(1.0, factor)
    data = config.model_dump(mode="json")
    data["tier_impressions"] = {
        t: max(1, round(v * factor)) if v else 0
        for t, v in config.tier_impressions.items()
    }
    scaled = config.model_copy(update={"tier_impressions": data["tier_impressions"]})
    data["packages"] = []
    for package in config.packages:
        impressions = max(1, math.floor(package.impressions * factor))
        data["packages"].append({
            **package.model_dump(mode="json"), "impressions": impressions,
            "points": max(package.points, scaled.least_package_points(impressions)),
        })
    # Channels and topics have no history yet: a quarter of the feed's daily traffic each, not
    # the busy-city default (which would dwarf this small feed on the operator's page).
    feed_daily = feed / config.plan_days / max(config.guaranteed_share, 0.01)
    data["default_other_surface_impressions"] = min(
        config.default_other_surface_impressions, max(10, int(feed_daily / 4)))
    data["cold_start_pool"] = pool
    data["cold_start_max_per_miniapp"] = min(config.cold_start_max_per_miniapp, max(10, pool // 4))
    traffic_config.save(db, actor=operator, data=data,
                        note="演示城市：保障曝光按预测流量缩放 (demo: promises scaled to traffic)")
    return traffic_config.active(db)


def _campaign(db: Session, operator: User | None, settings: Settings, rng: random.Random,
              apps: list[tuple[MiniApp, TrafficProfile | None]], impressions: int) -> None:
    today = campaigns.today(settings.timezone)
    campaign = campaigns.create(
        db, actor=operator, title_zh="社区生活节", title_en="Community life week",
        description="两周的社区生活节：优质商家在首页和社区生活频道获得活动曝光。",
        surfaces=["feed", "channel.community"], starts_on=today,
        ends_on=today + timedelta(days=13),
        eligible_stages=[Stage.GROWING.value, Stage.MATURE.value], min_tier="B",
        impressions_per_miniapp=impressions, max_enrolments=40,
        timezone=settings.timezone,
    )
    campaigns.set_state(db, actor=operator, campaign_public_id=campaign.public_id, state="open",
                        timezone=settings.timezone)
    eligible = [app for app, _ in apps if not campaigns.eligibility(db, campaign=campaign,
                                                                    miniapp=app)]
    for app in rng.sample(eligible, min(8, len(eligible))):
        campaigns.enrol(db, actor=None, campaign_public_id=campaign.public_id,
                        miniapp_public_id=app.public_id, timezone=settings.timezone)


DISCOUNT_THRESHOLD_FEN = 3000  # 满 30 元
DISCOUNT_OFF_FEN = 500  # 减 5 元


def _discount_campaign(db: Session, operator: User | None, settings: Settings,
                       codes: set[str], impressions: int) -> None:
    """A grocery week with 满 30 元减 5 元 at checkout, joined by every listed grocery shop (the
    first-party `grocery` runtime's mini-apps), so a resident buying groceries sees it."""
    shops = [app for app in db.scalars(select(MiniApp).join(
        Template, Template.id == MiniApp.template_id).where(
        Template.runtime == "grocery", MiniApp.listed.is_(True)).order_by(MiniApp.id))]
    if not shops:
        return
    today = campaigns.today(settings.timezone)
    campaign = campaigns.create(
        db, actor=operator, title_zh="买菜满减周", title_en="Grocery savings week",
        description="两周的买菜满减周：参加活动的买菜小程序满 30 元减 5 元（商家让利），"
                    "并在首页获得活动曝光。",
        surfaces=["feed"], starts_on=today, ends_on=today + timedelta(days=13),
        category_codes=["grocery"] if "grocery" in codes else [],
        impressions_per_miniapp=impressions, timezone=settings.timezone,
        discount_threshold_fen=DISCOUNT_THRESHOLD_FEN, discount_off_fen=DISCOUNT_OFF_FEN,
    )
    campaigns.set_state(db, actor=operator, campaign_public_id=campaign.public_id, state="open",
                        timezone=settings.timezone)
    for app in shops:
        if not campaigns.eligibility(db, campaign=campaign, miniapp=app):
            campaigns.enrol(db, actor=None, campaign_public_id=campaign.public_id,
                            miniapp_public_id=app.public_id, timezone=settings.timezone)


def _points(db: Session, operator: User | None, merchant: Merchant | None,
            config: traffic_config.TrafficConfig) -> None:
    points.award(db, config=config, now=clock.now())
    if merchant is None:
        return
    app = db.scalar(select(MiniApp).where(
        MiniApp.merchant_id == merchant.id, MiniApp.listed).order_by(MiniApp.id))
    if not app or not config.packages:
        return
    package = min(config.packages, key=lambda p: p.points)
    # Enough for the first redemption here and one more by the merchant in the console.
    balance = points.balance(db, merchant_id=merchant.id)
    if balance < 2 * package.points:
        points.adjust(db, actor=operator, merchant_public_id=merchant.public_id,
                      delta=2 * package.points - balance, reason="平台开业体验积分（演示数据）")
    points.redeem(db, actor=None, merchant_public_id=merchant.public_id,
                  miniapp_public_id=app.public_id, package_code=package.code,
                  idempotency_key="demo-first-redemption")


def _bids(db: Session, rng: random.Random, merchant: Merchant | None,
          apps: list[tuple[MiniApp, TrafficProfile | None]],
          config: traffic_config.TrafficConfig, timezone: str) -> None:
    able = [app for app, profile in apps
            if profile and auction.tier_at_least(profile.tier, config.ads_min_tier)]
    own = [app for app in able if merchant is not None and app.merchant_id == merchant.id]
    chosen = own[:1] + rng.sample([a for a in able if a not in own], min(5, len(able) - len(own)))
    targets = [("surface", "feed"), ("surface", "channel.community")]
    targets += [("keyword", word) for word in KEYWORDS]
    for app, (kind, target) in zip(chosen, targets, strict=False):
        try:
            bids.place(db, actor=None, miniapp_public_id=app.public_id, target_kind=kind,
                       target=target, max_cpc_fen=rng.choice((30, 50, 80, 120)),
                       daily_budget_fen=rng.choice((2_000, 5_000, 10_000)), config=config,
                       timezone=timezone)
        except TownsquareError:
            continue  # e.g. a keyword naming someone's certified brand: not this app's to buy


def seed(db: Session, *, settings: Settings, rng: random.Random) -> ServingPlan:
    """Seed the demo city's traffic and run the first plan; returns that plan."""
    now = clock.now()
    config = traffic_config.active(db)
    operator = _user(db, "operator")
    codes = set(db.scalars(select(Category.code)))
    # Stages and tiers first: campaign eligibility and the bid tier floor read the profiles.
    profiles.refresh(db, config=config, now=now)
    apps = _listed(db)
    merchant = _demo_merchant(db)
    _topics(db, operator, codes, rng, apps)
    forecast = supply.forecast(db, config=config, now=now, timezone=settings.timezone)
    feed = sum(n for key, n in forecast.items() if key.startswith("feed|"))
    channel = sum(n for key, n in forecast.items() if key.startswith("channel.community|"))
    config = _fit_config(db, operator, config, feed)
    # Eight enrolments sharing a sixth of the campaign surfaces' forecast, in round numbers.
    per_app = min(1500, max(50, int(round((feed + channel) / 6 / 8, -1))))
    _campaign(db, operator, settings, rng, apps, per_app)
    _discount_campaign(db, operator, settings, codes, per_app)
    _points(db, operator, merchant, config)
    _bids(db, rng, merchant, apps, config, settings.timezone)
    db.flush()
    return planning.run(db, actor=None, now=now, rng=np.random.default_rng(rng.getrandbits(64)),
                        timezone=settings.timezone)

