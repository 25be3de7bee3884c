"""JSON shapes for points, redemptions, growth stages and campaigns. Inputs are bounded; objects
are named by public id."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from townsquare.traffic.config import ExposurePackage
from townsquare.traffic.models import (
    Campaign,
    CampaignEnrolment,
    PointsEntry,
    Promise,
    Redemption,
    Stage,
)
from townsquare.traffic.support import stages

PublicId = Annotated[str, Field(min_length=3, max_length=40, examples=["ma_0123456789abcdef"])]
IdempotencyKey = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
StageName = Literal["new", "growing", "mature", "declining"]
Tier = Literal["S", "A", "B", "C", "D"]
SurfaceName = Annotated[str, Field(min_length=1, max_length=48, examples=["feed"])]
CategoryCode = Annotated[str, Field(min_length=1, max_length=32, examples=["grocery"])]


class EntryOut(BaseModel):
    id: str
    kind: str = Field(description="earn | redeem | refund | adjust")
    delta: int
    balance_after: int
    rule: str = Field(description="The earning rule or the package code")
    reference: str
    miniapp_id: str | None
    note: str
    created_at: datetime

    @classmethod
    def of(cls, entry: PointsEntry, miniapp_ids: dict[int, str]) -> EntryOut:
        return cls(id=entry.public_id, kind=entry.kind.value, delta=entry.delta,
                   balance_after=entry.balance_after, rule=entry.rule,
                   reference=entry.reference, miniapp_id=miniapp_ids.get(entry.miniapp_id or 0),
                   note=entry.note, created_at=entry.created_at)


class PointsOut(BaseModel):
    merchant_id: str
    balance: int
    entries: list[EntryOut] = Field(description="Newest first")


class AdjustIn(BaseModel):
    delta: int = Field(ge=-10_000_000, le=10_000_000, description="Points to add (or remove)")
    reason: str = Field(min_length=1, max_length=500)


class PackageOut(BaseModel):
    code: str
    surface: str
    impressions: int
    days: int
    points: int

    @classmethod
    def of(cls, package: ExposurePackage) -> PackageOut:
        return cls(**package.model_dump())


class RedemptionIn(BaseModel):
    package_code: str = Field(min_length=1, max_length=32, examples=["feed_small"])
    miniapp_id: PublicId
    idempotency_key: IdempotencyKey | None = Field(
        None, description="Or send the Idempotency-Key header; a retry with the same key returns "
                          "the same redemption and charges nothing"
    )


class RedemptionOut(BaseModel):
    id: str
    miniapp_id: str
    package_code: str
    surface: str
    impressions: int
    points: int
    starts_at: datetime
    ends_at: datetime
    state: str = Field(description="active | fulfilled | refunded")
    refunded_points: int
    planned: int = Field(description="Impressions the newest serving plan gives it")
    delivered: int
    created_at: datetime

    @classmethod
    def of(cls, redemption: Redemption, promise: Promise | None) -> RedemptionOut:
        return cls(id=redemption.public_id, miniapp_id=redemption.miniapp.public_id,
                   package_code=redemption.package_code, surface=redemption.surface,
                   impressions=redemption.impressions, points=redemption.points,
                   starts_at=redemption.starts_at, ends_at=redemption.ends_at,
                   state=redemption.state.value, refunded_points=redemption.refunded_points,
                   planned=promise.planned if promise else 0,
                   delivered=promise.delivered if promise else 0,
                   created_at=redemption.created_at)


class MiniAppStageOut(BaseModel):
    miniapp_id: str
    name: str
    stage: str
    label: str
    explanation: str = Field(description="The rule that decided the stage, in words")
    detail: dict[str, Any]


class StagesOut(BaseModel):
    merchant_id: str
    stage: str | None = Field(description="The most advanced of its mini-apps' stages")
    label: str | None
    miniapps: list[MiniAppStageOut]


def stage_out(app, stage: Stage, detail: dict[str, Any]) -> MiniAppStageOut:
    return MiniAppStageOut(miniapp_id=app.public_id, name=app.name, stage=stage.value,
                           label=stages.label(stage), explanation=stages.explain(stage, detail),
                           detail=detail)


class CampaignIn(BaseModel):
    title_zh: str = Field(min_length=1, max_length=48)
    title_en: str = Field(min_length=1, max_length=64)
    description: str = Field("", max_length=2000)
    surfaces: list[SurfaceName] = Field(min_length=1, max_length=10)
    starts_on: date
    ends_on: date = Field(description="Inclusive, local date")
    eligible_stages: list[StageName] = Field(default_factory=list, max_length=4)
    min_tier: Tier | None = None
    category_codes: list[CategoryCode] = Field(default_factory=list, max_length=50)
    impressions_per_miniapp: int = Field(1000, ge=1, le=1_000_000)
    max_enrolments: int | None = Field(None, ge=1, le=100_000)
    discount_threshold_fen: int | None = Field(
        None, description="满减: the items must come to at least this (fen)")
    discount_off_fen: int | None = Field(None, description="满减: this much off (fen)")
    discount_percent: int | None = Field(None, description="Percentage off the items, 1 to 100")
    discount_cap_fen: int | None = Field(None, description="At most this much off (fen)")


class CampaignStateIn(BaseModel):
    state: Literal["draft", "open", "closed", "cancelled"]


class CampaignOut(BaseModel):
    id: str
    title_zh: str
    title_en: str
    description: str
    surfaces: list[str]
    starts_on: date
    ends_on: date
    eligible_stages: list[str]
    min_tier: str | None
    category_codes: list[str]
    impressions_per_miniapp: int
    max_enrolments: int | None
    discount_threshold_fen: int | None = None
    discount_off_fen: int | None = None
    discount_percent: int | None = None
    discount_cap_fen: int | None = None
    state: str
    enrolments: int | None = Field(None, description="Current enrolments (operators)")
    created_at: datetime

    @classmethod
    def of(cls, campaign: Campaign, enrolments: int | None = None) -> CampaignOut:
        return cls(id=campaign.public_id, title_zh=campaign.title_zh, title_en=campaign.title_en,
                   description=campaign.description, surfaces=list(campaign.surfaces),
                   starts_on=campaign.starts_on, ends_on=campaign.ends_on,
                   eligible_stages=list(campaign.eligible_stages), min_tier=campaign.min_tier,
                   category_codes=list(campaign.category_codes),
                   impressions_per_miniapp=campaign.impressions_per_miniapp,
                   max_enrolments=campaign.max_enrolments, state=campaign.state.value,
                   discount_threshold_fen=campaign.discount_threshold_fen,
                   discount_off_fen=campaign.discount_off_fen,
                   discount_percent=campaign.discount_percent,
                   discount_cap_fen=campaign.discount_cap_fen,
                   enrolments=enrolments, created_at=campaign.created_at)


class CandidateOut(BaseModel):
    miniapp_id: str
    name: str
    eligible: bool
    reasons: list[str] = Field(description="Why it may not enrol; empty when eligible")
    enrolled: bool


class OpenCampaignOut(BaseModel):
    campaign: CampaignOut
    miniapps: list[CandidateOut]


class EnrolIn(BaseModel):
    miniapp_id: PublicId


class EnrolmentOut(BaseModel):
    id: str
    campaign_id: str
    miniapp_id: str
    enrolled_at: datetime
    withdrawn_at: datetime | None

    @classmethod
    def of(cls, enrolment: CampaignEnrolment) -> EnrolmentOut:
        return cls(id=enrolment.public_id, campaign_id=enrolment.campaign.public_id,
                   miniapp_id=enrolment.miniapp.public_id, enrolled_at=enrolment.enrolled_at,
                   withdrawn_at=enrolment.withdrawn_at)
