"""JSON shapes for the scoring API. Inputs are bounded; objects are named by public id."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from townsquare.scoring.models import ComplaintDispute, MiniAppScore, ScoreCycle

Reason = Annotated[str, Field(min_length=1, max_length=500)]


class ScoreOut(BaseModel):
    miniapp_id: str
    cycle_id: str
    as_of: date
    state: str = Field(description="scored | insufficient_data")
    overall: float | None
    pillars: dict[str, float | None]
    tier: str | None
    rank: int | None
    model_version: str
    explanation: dict[str, Any] = Field(
        description="The model's full result: inputs, adjusted values, benchmarks, contributions"
    )
    tier_detail: dict[str, Any]
    suggestions: list[Any]

    @classmethod
    def of(cls, score: MiniAppScore) -> ScoreOut:
        return cls(
            miniapp_id=score.miniapp.public_id,
            cycle_id=score.cycle.public_id,
            as_of=score.cycle.as_of,
            state=score.state,
            overall=score.overall,
            pillars={"volume": score.volume, "scale": score.scale, "quality": score.quality},
            tier=score.tier,
            rank=score.rank,
            model_version=score.cycle.model_version,
            explanation=score.result or {},
            tier_detail=score.tier_detail or {},
            suggestions=score.suggestions or [],
        )


class CycleIn(BaseModel):
    as_of: date = Field(description="Score as of this day (UTC); re-running a day replaces it")


class CycleOut(BaseModel):
    id: str
    as_of: date
    state: str
    window_days: int
    config_version: int
    model_version: str
    started_at: datetime
    finished_at: datetime | None
    counts: dict[str, Any]

    @classmethod
    def of(cls, cycle: ScoreCycle) -> CycleOut:
        return cls(
            id=cycle.public_id,
            as_of=cycle.as_of,
            state=cycle.state.value,
            window_days=cycle.window_days,
            config_version=cycle.config_version.version,
            model_version=cycle.model_version,
            started_at=cycle.started_at,
            finished_at=cycle.finished_at,
            counts=cycle.counts or {},
        )


class ConfigOut(BaseModel):
    version: int
    cycle_days: int
    window_days: int
    config: dict[str, Any]
    editable: dict[str, float]
    created_at: datetime


class ConfigIn(BaseModel):
    changes: dict[Annotated[str, Field(max_length=64)], float] = Field(
        default_factory=dict,
        max_length=64,
        description='Flattened numeric settings, e.g. {"pillar_weights.quality": 0.5}',
    )
    cycle_days: int | None = Field(None, ge=1, le=91)
    window_days: int | None = Field(None, ge=7, le=90)
    note: str = Field("", max_length=500)


class DisputeIn(BaseModel):
    miniapp_id: str = Field(min_length=3, max_length=40, examples=["ma_0123456789abcdef"])
    event_id: str = Field(min_length=1, max_length=64, description="The complaint's event id")
    reason: Reason


class DecisionIn(BaseModel):
    decision: Literal["uphold", "dismiss"]
    reason: Reason


class DisputeOut(BaseModel):
    id: str
    miniapp_id: str
    event_id: str
    complaint_category: str
    state: str
    reason: str
    decision_reason: str
    created_at: datetime
    decided_at: datetime | None

    @classmethod
    def of(cls, dispute: ComplaintDispute) -> DisputeOut:
        return cls(
            id=dispute.public_id,
            miniapp_id=dispute.miniapp.public_id,
            event_id=dispute.event.event_id,
            complaint_category=dispute.event.complaint_category or "",
            state=dispute.state.value,
            reason=dispute.reason,
            decision_reason=dispute.decision_reason,
            created_at=dispute.created_at,
            decided_at=dispute.decided_at,
        )


class ComplaintOut(BaseModel):
    event_id: str
    occurred_at: datetime
    category: str
    resolution: str
    dispute: DisputeOut | None
