"""Traffic tables: where services are shown, the promises of exposure the platform makes, the
points ledger, campaigns, paid bids and the stored serving plan (the search index is in memory:
`traffic.search`).

The contract between the traffic modules: `profiles` (stage, quality, tier: what serving reads),
`promises` (every guaranteed demand, whatever its kind), `serving_plans` + `plan_allocations`
(what the planner decided), `points_*`, `campaigns`, `bids` + `bid_spend`, `topics`, `channels`.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from townsquare.core import generations
from townsquare.core.database import Base, Timestamped, str_enum, utcnow
from townsquare.core.ids import new_id
from townsquare.merchants.models import Merchant
from townsquare.miniapps.models import MiniApp


class Stage(enum.StrEnum):
    NEW = "new"
    GROWING = "growing"
    MATURE = "mature"
    DECLINING = "declining"


class SlotReason(enum.StrEnum):
    """Why an item is in a slot; stored on exposure and click events (`slot_reason`)."""

    ORGANIC = "organic"
    GUARANTEED = "guaranteed"  # a tier incentive or a points redemption (the promise says which)
    COLD_START = "cold_start"
    CAMPAIGN = "campaign"
    SPONSORED = "sponsored"


class PromiseKind(enum.StrEnum):
    TIER_INCENTIVE = "tier_incentive"
    COLD_START = "cold_start"
    POINTS = "points"
    CAMPAIGN = "campaign"


class PromiseState(enum.StrEnum):
    ACTIVE = "active"
    FULFILLED = "fulfilled"
    EXPIRED = "expired"  # the period ended short; points promises are refunded for the gap
    CANCELLED = "cancelled"


class TrafficConfigVersion(Timestamped, Base):
    """The operator's traffic configuration (`traffic.config.TrafficConfig` as JSON), versioned."""

    __tablename__ = "traffic_config_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(unique=True)
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    active: Mapped[bool] = mapped_column(default=False, index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str] = mapped_column(String(500), default="")


class TrafficProfile(Base):
    """Per mini-app, what serving needs in one row: stage, quality score, tier, cold-start stats.

    Refreshed by `traffic.profiles.refresh` (each planning run); never the source of truth.
    """

    __tablename__ = "traffic_profiles"

    miniapp_id: Mapped[int] = mapped_column(
        ForeignKey("miniapps.id", ondelete="CASCADE"), primary_key=True
    )
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    stage: Mapped[Stage] = mapped_column(str_enum(Stage, 16), default=Stage.NEW)
    stage_detail: Mapped[dict[str, Any]] = mapped_column(default=dict)  # the rule that decided
    quality: Mapped[float | None]  # overall service score 0..100 of the newest cycle
    tier: Mapped[str | None] = mapped_column(String(8))
    # exposure outcomes over the recent window, for the cold-start bandit and popularity
    impressions: Mapped[int] = mapped_column(default=0)
    clicks: Mapped[int] = mapped_column(default=0)
    orders: Mapped[int] = mapped_column(default=0)
    refreshed_at: Mapped[datetime] = mapped_column(default=utcnow)

    miniapp: Mapped[MiniApp] = relationship(lazy="joined")


class Channel(Base):
    """A themed surface gathering categories (for example the community-life channel)."""

    __tablename__ = "channels"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(32), unique=True)
    title_zh: Mapped[str] = mapped_column(String(32))
    title_en: Mapped[str] = mapped_column(String(48))
    category_codes: Mapped[list[Any]] = mapped_column(default=list)
    position: Mapped[int] = mapped_column(default=0)

    def title(self, locale: str) -> str:
        return self.title_en if locale == "en" else self.title_zh


class Topic(Timestamped, Base):
    """An official topic page the operator defines ("buy groceries"): categories, tags, members."""

    __tablename__ = "topics"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True, default=lambda: new_id("top"))
    slug: Mapped[str] = mapped_column(String(32), unique=True)
    title_zh: Mapped[str] = mapped_column(String(32))
    title_en: Mapped[str] = mapped_column(String(48))
    description_zh: Mapped[str] = mapped_column(Text, default="")
    description_en: Mapped[str] = mapped_column(Text, default="")
    category_codes: Mapped[list[Any]] = mapped_column(default=list)
    tags: Mapped[list[Any]] = mapped_column(default=list)
    active: Mapped[bool] = mapped_column(default=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    def title(self, locale: str) -> str:
        return self.title_en if locale == "en" else self.title_zh

    def description(self, locale: str) -> str:
        return self.description_en if locale == "en" else self.description_zh


class MembershipState(enum.StrEnum):
    APPLIED = "applied"
    APPROVED = "approved"
    REJECTED = "rejected"
    REMOVED = "removed"


class TopicMember(Timestamped, Base):
    """A mini-app's application to a topic and the operator's decision."""

    __tablename__ = "topic_members"
    __table_args__ = (UniqueConstraint("topic_id", "miniapp_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True, default=lambda: new_id("tpm"))
    topic_id: Mapped[int] = mapped_column(ForeignKey("topics.id", ondelete="CASCADE"))
    miniapp_id: Mapped[int] = mapped_column(ForeignKey("miniapps.id", ondelete="CASCADE"))
    state: Mapped[MembershipState] = mapped_column(
        str_enum(MembershipState, 16), default=MembershipState.APPLIED
    )
    note: Mapped[str] = mapped_column(Text, default="")  # the merchant's pitch
    reason: Mapped[str] = mapped_column(Text, default="")  # the operator's reason
    applied_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]

    topic: Mapped[Topic] = relationship(lazy="joined")
    miniapp: Mapped[MiniApp] = relationship(lazy="joined")


# -- points ----------------------------------------------------------------------------------
class PointsAccount(Base):
    """A merchant's balance; updated only with a guarded UPDATE next to a ledger entry."""

    __tablename__ = "points_accounts"
    __table_args__ = (CheckConstraint("balance >= 0", name="balance_not_negative"),)

    merchant_id: Mapped[int] = mapped_column(
        ForeignKey("merchants.id", ondelete="CASCADE"), primary_key=True
    )
    balance: Mapped[int] = mapped_column(default=0)


class PointsEntryKind(enum.StrEnum):
    EARN = "earn"
    REDEEM = "redeem"
    REFUND = "refund"
    ADJUST = "adjust"  # an operator's correction, with a reason


class PointsEntry(Base):
    """One append-only ledger line. `reference` makes each earning and redemption happen once."""

    __tablename__ = "points_entries"
    __table_args__ = (
        UniqueConstraint("merchant_id", "reference"),
        CheckConstraint("balance_after >= 0", name="balance_after_not_negative"),
        Index("ix_points_entries_merchant_time", "merchant_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True, default=lambda: new_id("pts"))
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    kind: Mapped[PointsEntryKind] = mapped_column(str_enum(PointsEntryKind, 16))
    delta: Mapped[int]
    balance_after: Mapped[int]
    rule: Mapped[str] = mapped_column(String(48), default="")  # earning rule or package code
    reference: Mapped[str] = mapped_column(String(128))  # e.g. earn:complete_profile:ma_x:2026-W47
    miniapp_id: Mapped[int | None] = mapped_column(ForeignKey("miniapps.id", ondelete="SET NULL"))
    note: Mapped[str] = mapped_column(Text, default="")
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RedemptionState(enum.StrEnum):
    ACTIVE = "active"
    FULFILLED = "fulfilled"
    REFUNDED = "refunded"  # fully or in part: `refunded_points` says how much


class Redemption(Base):
    """Points exchanged for an exposure package: impressions on a surface within a period."""

    __tablename__ = "redemptions"
    __table_args__ = (UniqueConstraint("merchant_id", "idempotency_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True, default=lambda: new_id("rdm"))
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    miniapp_id: Mapped[int] = mapped_column(ForeignKey("miniapps.id", ondelete="CASCADE"))
    idempotency_key: Mapped[str] = mapped_column(String(64))
    package_code: Mapped[str] = mapped_column(String(32))
    surface: Mapped[str] = mapped_column(String(48))
    impressions: Mapped[int]
    points: Mapped[int]
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    state: Mapped[RedemptionState] = mapped_column(
        str_enum(RedemptionState, 16), default=RedemptionState.ACTIVE
    )
    refunded_points: Mapped[int] = mapped_column(default=0)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    miniapp: Mapped[MiniApp] = relationship(lazy="joined")


# -- campaigns -------------------------------------------------------------------------------
class CampaignState(enum.StrEnum):
    DRAFT = "draft"
    OPEN = "open"  # merchants may enrol
    CLOSED = "closed"  # enrolment closed by the operator (slots still run to the end date)
    CANCELLED = "cancelled"


class Campaign(Timestamped, Base):
    """An operator's marketing campaign: eligibility, surfaces, dates, impressions per mini-app."""

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True, default=lambda: new_id("cmp"))
    title_zh: Mapped[str] = mapped_column(String(48))
    title_en: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text, default="")
    surfaces: Mapped[list[Any]] = mapped_column(default=list)
    starts_on: Mapped[date]
    ends_on: Mapped[date]  # inclusive
    eligible_stages: Mapped[list[Any]] = mapped_column(default=list)  # empty: any stage
    min_tier: Mapped[str | None] = mapped_column(String(8))  # None: any, even unscored
    category_codes: Mapped[list[Any]] = mapped_column(default=list)  # empty: any category
    impressions_per_miniapp: Mapped[int] = mapped_column(default=1000)
    max_enrolments: Mapped[int | None]
    state: Mapped[CampaignState] = mapped_column(
        str_enum(CampaignState, 16), default=CampaignState.DRAFT
    )
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # an optional discount enrolled mini-apps give at checkout, funded by the merchant (the
    # trade total is reduced): 满 threshold 减 off, and/or percent off items up to cap (fen)
    discount_threshold_fen: Mapped[int | None] = mapped_column(BigInteger)
    discount_off_fen: Mapped[int | None] = mapped_column(BigInteger)
    discount_percent: Mapped[int | None]
    discount_cap_fen: Mapped[int | None] = mapped_column(BigInteger)

    def title(self, locale: str) -> str:
        return self.title_en if locale == "en" else self.title_zh


class CampaignEnrolment(Base):
    __tablename__ = "campaign_enrolments"
    __table_args__ = (UniqueConstraint("campaign_id", "miniapp_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True, default=lambda: new_id("enr"))
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    miniapp_id: Mapped[int] = mapped_column(ForeignKey("miniapps.id", ondelete="CASCADE"))
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    enrolled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    enrolled_at: Mapped[datetime] = mapped_column(default=utcnow)
    withdrawn_at: Mapped[datetime | None]

    campaign: Mapped[Campaign] = relationship(lazy="joined")
    miniapp: Mapped[MiniApp] = relationship(lazy="joined")


# -- paid exposure ---------------------------------------------------------------------------
class BidTarget(enum.StrEnum):
    SURFACE = "surface"  # "feed", "channel.community", "topic.groceries", "search"
    KEYWORD = "keyword"  # a normalised search keyword


class Bid(Timestamped, Base):
    """A cost-per-click bid with a daily budget for one mini-app on a surface or keyword."""

    __tablename__ = "bids"
    __table_args__ = (
        UniqueConstraint("miniapp_id", "target_kind", "target"),
        CheckConstraint("max_cpc_fen > 0", name="cpc_positive"),
        CheckConstraint("daily_budget_fen > 0", name="budget_positive"),
        Index("ix_bids_target", "target_kind", "target", "active"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True, default=lambda: new_id("bid"))
    miniapp_id: Mapped[int] = mapped_column(ForeignKey("miniapps.id", ondelete="CASCADE"))
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    target_kind: Mapped[BidTarget] = mapped_column(str_enum(BidTarget, 16))
    target: Mapped[str] = mapped_column(String(48))
    max_cpc_fen: Mapped[int]
    daily_budget_fen: Mapped[int]
    active: Mapped[bool] = mapped_column(default=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    miniapp: Mapped[MiniApp] = relationship(lazy="joined")


class BidSpend(Base):
    """One bid's spend on one local day; `spent_fen` only grows by a guarded UPDATE."""

    __tablename__ = "bid_spend"
    __table_args__ = (
        UniqueConstraint("bid_id", "day"),
        CheckConstraint("spent_fen >= 0", name="spent_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    bid_id: Mapped[int] = mapped_column(ForeignKey("bids.id", ondelete="CASCADE"))
    day: Mapped[date]
    budget_fen: Mapped[int]  # the daily budget that day (a later edit does not rewrite history)
    spent_fen: Mapped[int] = mapped_column(default=0)
    clicks: Mapped[int] = mapped_column(default=0)  # charged clicks
    impressions: Mapped[int] = mapped_column(default=0)
    filtered: Mapped[int] = mapped_column(default=0)  # invalid clicks, not charged or refunded


class AdClick(Base):
    """A click on a sponsored item, once per click token (a replayed click is not charged
    twice): charged, or filtered as invalid (with why), or refunded by a later check."""

    __tablename__ = "ad_clicks"
    __table_args__ = (Index("ix_ad_clicks_client_at", "client", "clicked_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    bid_id: Mapped[int] = mapped_column(ForeignKey("bids.id", ondelete="CASCADE"), index=True)
    price_fen: Mapped[int]  # what was charged (may be below the quoted price near the budget)
    clicked_at: Mapped[datetime] = mapped_column(default=utcnow)
    visitor: Mapped[str] = mapped_column(String(32), default="")  # keyed digest, not the person
    client: Mapped[str] = mapped_column(String(32), default="")  # keyed digest of the address
    status: Mapped[str] = mapped_column(String(16), default="charged")  # filtered | refunded
    reason: Mapped[str] = mapped_column(String(24), default="")
    # one charged click per visitor per ad per window: unique while charged, NULL otherwise
    charge_key: Mapped[str | None] = mapped_column(String(64), unique=True)


# -- promises and the serving plan -----------------------------------------------------------
class Promise(Base):
    """A guaranteed demand for exposure: what the plan must deliver, whatever its kind."""

    __tablename__ = "promises"
    __table_args__ = (
        UniqueConstraint("kind", "source", "miniapp_id"),
        Index("ix_promises_state_period", "state", "ends_at"),
        Index("ix_promises_merchant", "merchant_id", "ends_at"),  # a merchant's traffic page
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True, default=lambda: new_id("prm"))
    kind: Mapped[PromiseKind] = mapped_column(str_enum(PromiseKind, 16))
    # what made the promise: "cycle:<as_of>", "redemption:rdm_…", "campaign:cmp_…", "cold:<date>"
    source: Mapped[str] = mapped_column(String(64))
    miniapp_id: Mapped[int] = mapped_column(ForeignKey("miniapps.id", ondelete="CASCADE"))
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    surfaces: Mapped[list[Any]] = mapped_column(default=list)  # empty: any surface
    requested: Mapped[int]
    planned: Mapped[int] = mapped_column(default=0)  # by the newest plan
    delivered: Mapped[int] = mapped_column(default=0)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    state: Mapped[PromiseState] = mapped_column(
        str_enum(PromiseState, 16), default=PromiseState.ACTIVE
    )
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)  # e.g. tier, package, campaign
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    miniapp: Mapped[MiniApp] = relationship(lazy="joined")
    merchant: Mapped[Merchant] = relationship(lazy="joined")


class ServingPlan(Base):
    """One solved allocation of forecast supply to the active promises; the newest one serves."""

    __tablename__ = "serving_plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True, default=lambda: new_id("pln"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    method: Mapped[str] = mapped_column(String(16))  # exact | greedy
    objective: Mapped[float]
    solve_seconds: Mapped[float]
    # {segment key: forecast impressions} and summary counts, for the operator's supply view
    supply: Mapped[dict[str, Any]] = mapped_column(default=dict)
    stats: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class PlanAllocation(Base):
    """Planned impressions of one promise on one supply segment, and what serving delivered."""

    __tablename__ = "plan_allocations"
    __table_args__ = (
        UniqueConstraint("plan_id", "promise_id", "segment"),
        Index("ix_plan_allocations_lookup", "plan_id", "surface", "city", "daypart"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("serving_plans.id", ondelete="CASCADE"))
    promise_id: Mapped[int] = mapped_column(ForeignKey("promises.id", ondelete="CASCADE"))
    segment: Mapped[str] = mapped_column(String(120))  # "surface|city|daypart|audience"
    surface: Mapped[str] = mapped_column(String(48))
    city: Mapped[str] = mapped_column(String(32))
    daypart: Mapped[str] = mapped_column(String(16))
    audience: Mapped[str] = mapped_column(String(16))
    planned: Mapped[int]
    delivered: Mapped[int] = mapped_column(default=0)

    promise: Mapped[Promise] = relationship(lazy="joined")

# Channel and topic pages read a cached snapshot rebuilt when these change (core/generations.py).
generations.watch(Channel, "topics")
generations.watch(Topic, "topics")
generations.watch(TopicMember, "topics")
