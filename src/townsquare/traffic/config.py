"""The operator's traffic configuration: every knob of stages, support kinds, auction and serving.

One Pydantic model, validated on every edit and stored as JSON in `traffic_config_versions`
(one version active). The defaults are what the embedded demo runs with.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from townsquare.accounts.models import Role, User
from townsquare.accounts.permissions import require_role
from townsquare.core import audit
from townsquare.core.errors import ValidationFailed
from townsquare.scoring import TIERS

SURFACE_FEED = "feed"
SURFACE_SEARCH = "search"
DAYPARTS = ("night", "morning", "afternoon", "evening")  # local hours 0–6, 6–12, 12–18, 18–24
AUDIENCES = ("resident", "guest")  # signed-in resident or anonymous visitor


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StageRules(_Strict):
    """Growth stage from age and activity (active days and orders in the recent window)."""

    new_max_days: int = Field(default=30, ge=1, le=365)  # listed fewer days than this: new
    window_days: int = Field(default=28, ge=7, le=90)
    mature_min_days: int = Field(default=90, ge=1, le=3650)
    mature_min_orders: int = Field(default=100, ge=0)  # orders in the window
    # declining: orders in the window fell below this share of the previous window
    declining_ratio: float = Field(default=0.6, gt=0, lt=1)
    declining_min_previous_orders: int = Field(default=20, ge=0)


class PointsRule(_Strict):
    """Points a merchant earns once per period per mini-app for one condition of good digital
    operation, at most `weekly_cap` points per merchant in a local week (however many mini-apps
    it lists: new mini-apps cannot mint points). No cap given: one award a week."""

    code: str = Field(pattern=r"^[a-z][a-z0-9_]{1,31}$")
    points: int = Field(ge=1, le=100_000)
    period: str = Field(default="once", pattern=r"^(once|week)$")
    weekly_cap: int | None = Field(default=None, ge=1, le=10_000_000)

    @property
    def cap(self) -> int:
        """The most points one merchant earns from this rule in a local week."""
        return self.weekly_cap if self.weekly_cap is not None else self.points

    @model_validator(mode="after")
    def _cap_pays(self) -> PointsRule:
        if self.cap < self.points:
            raise ValueError(f"points rule {self.code}: weekly_cap is at least its points")
        return self


class ExposurePackage(_Strict):
    """What points buy: impressions on a surface within some days."""

    code: str = Field(pattern=r"^[a-z][a-z0-9_]{1,31}$")
    surface: str = Field(pattern=r"^[a-z][a-z0-9_.-]{0,47}$")
    impressions: int = Field(ge=1, le=10_000_000)
    days: int = Field(ge=1, le=90)
    points: int = Field(ge=1, le=10_000_000)


class TrafficConfig(_Strict):
    stages: StageRules = StageRules()

    # tier incentives: guaranteed impressions per scoring cycle, by tier
    tier_impressions: dict[str, int] = Field(
        default_factory=lambda: {"S": 3000, "A": 1500, "B": 600, "C": 0, "D": 0}
    )
    tier_surfaces: list[str] = Field(default_factory=lambda: [SURFACE_FEED])

    # cold start: an exploration pool shared by new mini-apps by Thompson sampling
    cold_start_pool: int = Field(default=20_000, ge=0)  # impressions per planning period
    cold_start_max_per_miniapp: int = Field(default=2_000, ge=0)
    # pseudo-impressions of the category prior
    cold_start_prior_strength: float = Field(default=20.0, gt=0)

    # points: earned for good digital operation (capped per merchant and week), spent on
    # packages; docs/traffic.md "The points economy" has the numbers
    points_rules: list[PointsRule] = Field(
        default_factory=lambda: [
            PointsRule(code="complete_profile", points=200, period="once", weekly_cap=200),
            PointsRule(code="store_pickup", points=100, period="once", weekly_cap=100),
            PointsRule(code="on_time_streak", points=50, period="week", weekly_cap=100),
            PointsRule(code="quick_replies", points=30, period="week", weekly_cap=60),
        ]
    )
    packages: list[ExposurePackage] = Field(
        default_factory=lambda: [
            ExposurePackage(code="feed_small", surface=SURFACE_FEED, impressions=300, days=7,
                            points=100),
            ExposurePackage(code="feed_large", surface=SURFACE_FEED, impressions=1500, days=14,
                            points=500),
            ExposurePackage(code="search_boost", surface=SURFACE_SEARCH, impressions=600,
                            days=7, points=200),
        ]
    )
    # the exchange rate follows the tier incentives: the most points a merchant can earn in a
    # week buy at most this share of the top tier's incentive for one cycle (good operation
    # helps; it never outweighs good service)
    points_max_tier_share: float = Field(default=0.5, gt=0, le=1)

    # paid exposure (docs/traffic.md, "Why a bad bidder cannot win")
    # below this tier: no buying traffic
    ads_min_tier: str = Field(default="B", pattern=r"^[SABCD]$")
    # and below this service score (0..100, absolute, not a share of the category): none either
    ads_min_score: float = Field(default=60.0, ge=0, le=100)
    # ad rank = bid × quality factor, the factor growing as (score / 100) ** k: k ≥ 1, and the
    # default 2 makes quality weigh more steeply than the bid
    ads_quality_exponent: float = Field(default=2.0, ge=1, le=6)
    # one merchant takes at most this share of a bid target's sponsored impressions a local day
    # (after the first `ads_share_allowance` of them, so the day can start)
    ads_max_merchant_share: float = Field(default=0.25, gt=0, le=1)
    ads_share_allowance: int = Field(default=20, ge=0, le=1_000_000)
    reserve_cpc_fen: int = Field(default=10, ge=1)
    max_cpc_fen: int = Field(default=10_000, ge=1)
    max_daily_budget_fen: int = Field(default=10_000_000, ge=1)

    # planning and serving
    plan_days: int = Field(default=7, ge=1, le=31)
    forecast_days: int = Field(default=14, ge=1, le=90)
    default_daily_impressions: dict[str, int] = Field(  # per surface, before any history
        default_factory=lambda: {SURFACE_FEED: 20_000, SURFACE_SEARCH: 5_000}
    )
    default_other_surface_impressions: int = Field(default=2_000, ge=0)  # channels and topics
    guaranteed_share: float = Field(default=0.4, ge=0, le=1)  # of each segment's supply
    priorities: dict[str, float] = Field(
        default_factory=lambda: {"tier_incentive": 4.0, "points": 3.0, "campaign": 2.0,
                                 "cold_start": 1.0}
    )
    underdelivery_penalty: dict[str, float] = Field(
        default_factory=lambda: {"tier_incentive": 8.0, "points": 10.0, "campaign": 6.0,
                                 "cold_start": 0.5}
    )
    feed_size: int = Field(default=10, ge=3, le=50)
    max_guaranteed_slots: int = Field(default=3, ge=0, le=20)  # per response
    sponsored_positions: list[int] = Field(default_factory=lambda: [3, 8])  # 1-based
    new_merchant_min_share: float = Field(default=0.2, ge=0, le=1)  # in every top-k prefix
    # how a response is ranked (docs/traffic.md, "A feed that converts"): "value" places
    # guaranteed and organic items together by expected good orders and takes, among the
    # allocations behind pace, the ones likely to convert here first; "quality" is the old way
    # (guaranteed items first, most behind first; organic by score × relevance)
    ranking: str = Field(default="value", pattern=r"^(value|quality)$")
    # pseudo-impressions of the click-rate prior when estimating a mini-app's click rate
    ranking_prior_impressions: float = Field(default=200.0, gt=0, le=1_000_000)

    @model_validator(mode="after")
    def _check(self) -> TrafficConfig:
        if set(self.tier_impressions) - set(TIERS) or any(
            v < 0 for v in self.tier_impressions.values()
        ):
            raise ValueError("tier_impressions: tiers S–D, non-negative")
        kinds = {"tier_incentive", "points", "campaign", "cold_start"}
        if set(self.priorities) != kinds or set(self.underdelivery_penalty) != kinds:
            raise ValueError("priorities and penalties need every promise kind")
        if any(v < 0 for v in [*self.priorities.values(), *self.underdelivery_penalty.values()]):
            raise ValueError("priorities and penalties are non-negative")
        if any(p < 1 or p > self.feed_size for p in self.sponsored_positions):
            raise ValueError("sponsored positions lie within the feed")
        if len({p.code for p in self.packages}) != len(self.packages):
            raise ValueError("package codes are unique")
        if len({r.code for r in self.points_rules}) != len(self.points_rules):
            raise ValueError("points rule codes are unique")
        return self

    def economy_problems(self) -> list[str]:
        """Packages priced below what the tier incentives allow (see `least_package_points`).
        Checked whenever a configuration is saved; a version stored before the rule existed
        still loads, so planning keeps running until the operator saves a fixed one."""
        problems = []
        for package in self.packages:
            least = self.least_package_points(package.impressions)
            if package.points < least:
                problems.append(
                    f"package {package.code}: {package.impressions} impressions cost at least "
                    f"{least} points (a merchant earns up to {self.max_weekly_points()} points "
                    f"a week, which may buy at most {self.points_max_tier_share:g} of the top "
                    f"tier's {self.top_tier_impressions()} impressions per cycle)"
                )
        return problems

    def max_weekly_points(self) -> int:
        """The most points one merchant can earn in a local week (every rule at its cap)."""
        return sum(rule.cap for rule in self.points_rules)

    def top_tier_impressions(self) -> int:
        return max(self.tier_impressions.values(), default=0)

    def least_package_points(self, impressions: int) -> int:
        """The lowest price in points of `impressions` that keeps a week's maximum earnings
        within `points_max_tier_share` of the top tier's incentive (1 when nothing is earned or
        no tier earns impressions: then there is nothing to compare with)."""
        weekly, top = self.max_weekly_points(), self.top_tier_impressions()
        if not weekly or not top:
            return 1
        budget = self.points_max_tier_share * top  # impressions a week's points may buy
        return max(1, math.ceil(impressions * weekly / budget - 1e-9))

    def package(self, code: str) -> ExposurePackage | None:
        return next((p for p in self.packages if p.code == code), None)

    def rule(self, code: str) -> PointsRule | None:
        return next((r for r in self.points_rules if r.code == code), None)


DEFAULT_CONFIG = TrafficConfig()


def load(data: dict[str, Any], *, stored: bool = False) -> TrafficConfig:
    """A TrafficConfig from JSON; an invalid one raises ValidationFailed with the reason.
    `stored`: a version saved earlier, loaded without the newer economy rule."""
    try:
        config = TrafficConfig.model_validate(data)
    except ValueError as exc:
        raise ValidationFailed("Invalid traffic configuration: {reason}", reason=str(exc)) from exc
    if not stored and (problems := config.economy_problems()):
        raise ValidationFailed("Invalid traffic configuration: {reason}",
                               reason="; ".join(problems))
    return config


def active(db: Session) -> TrafficConfig:
    """The active configuration (the defaults until the operator saves a version)."""
    from townsquare.traffic.models import TrafficConfigVersion

    row = db.scalar(select(TrafficConfigVersion).where(TrafficConfigVersion.active.is_(True)))
    return DEFAULT_CONFIG if row is None else load(row.config, stored=True)


def save(db: Session, *, actor: User | None, data: dict[str, Any], note: str = "") -> int:
    """Validate and activate a new version; returns its number. Operators only."""
    from townsquare.traffic.models import TrafficConfigVersion

    require_role(actor, Role.OPERATOR)
    config = load(data)
    number = (db.scalar(select(func.max(TrafficConfigVersion.version))) or 0) + 1
    for row in db.scalars(select(TrafficConfigVersion).where(TrafficConfigVersion.active)):
        row.active = False
    db.add(TrafficConfigVersion(version=number, config=config.model_dump(mode="json"),
                                active=True, created_by_id=actor.id if actor else None,
                                note=note[:500]))
    db.flush()
    audit.record(db, actor_id=actor.id if actor else None, action="traffic.config.save",
                 subject_type="traffic_config", subject_id=f"v{number}")
    return number
