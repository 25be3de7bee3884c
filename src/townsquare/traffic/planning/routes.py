"""Traffic planning JSON API (operators): run the planner now, read the active plan's summary,
read and replace the traffic configuration."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlalchemy import select

from townsquare.accounts.deps import CurrentUser
from townsquare.accounts.models import Role
from townsquare.accounts.permissions import require_role
from townsquare.core.errors import NotFound
from townsquare.traffic import config as traffic_config
from townsquare.traffic.models import ServingPlan, TrafficConfigVersion
from townsquare.traffic.planning import service as planning
from townsquare.web.deps import AppSettings, DbSession
from townsquare.web.openapi import errors

router = APIRouter(prefix="/api/traffic", tags=["traffic planning"])
KINDS = ("tier_incentive", "points", "campaign", "cold_start")


class PlanIn(BaseModel):
    method: Literal["exact", "greedy"] = Field(
        "exact", description="exact: min-cost flow (the optimum); greedy: one pass, for comparison"
    )


class KindLine(BaseModel):
    kind: str
    promises: int = Field(description="Promises of this kind with impressions still to deliver")
    requested: int = Field(description="Impressions they still need (requested − delivered)")
    planned: int = Field(description="Impressions this plan gives them")
    shortfall: int


class PlanOut(BaseModel):
    id: str
    created_at: datetime
    starts_at: datetime
    ends_at: datetime
    method: str
    objective: float
    solve_seconds: float
    segments: int
    allocations: int
    supply: int = Field(description="Forecast impressions the plan may promise, all segments")
    supply_by_surface: dict[str, int]
    demand: list[KindLine]
    requested: int
    planned: int

    @classmethod
    def of(cls, plan: ServingPlan) -> PlanOut:
        stats: dict[str, Any] = plan.stats or {}
        requested, planned = stats.get("requested", {}), stats.get("planned", {})
        counts = stats.get("demands_by_kind", {})
        lines = [
            KindLine(kind=kind, promises=int(counts.get(kind, 0)),
                     requested=int(requested.get(kind, 0)), planned=int(planned.get(kind, 0)),
                     shortfall=int(requested.get(kind, 0)) - int(planned.get(kind, 0)))
            for kind in KINDS
        ]
        return cls(
            id=plan.public_id, created_at=plan.created_at, starts_at=plan.starts_at,
            ends_at=plan.ends_at, method=plan.method, objective=plan.objective,
            solve_seconds=plan.solve_seconds, segments=int(stats.get("segments", 0)),
            allocations=int(stats.get("allocations", 0)), supply=int(stats.get("supply", 0)),
            supply_by_surface={k: int(v) for k, v in stats.get("supply_by_surface", {}).items()},
            demand=lines, requested=sum(line.requested for line in lines),
            planned=sum(line.planned for line in lines),
        )


class ConfigIn(BaseModel):
    config: dict[str, Any] = Field(
        description="The whole traffic configuration; omitted knobs take their defaults"
    )
    note: str = Field("", max_length=500)


class ConfigOut(BaseModel):
    version: int | None = Field(description="Active version (None: the defaults, never saved)")
    config: dict[str, Any]


def _config_out(db) -> ConfigOut:
    row = db.scalar(select(TrafficConfigVersion).where(TrafficConfigVersion.active.is_(True)))
    return ConfigOut(version=row.version if row else None,
                     config=traffic_config.active(db).model_dump(mode="json"))


@router.post("/plans", response_model=PlanOut, status_code=201,
             responses=errors(401, 403, 409, 422))
def run_plan(body: PlanIn, user: CurrentUser, db: DbSession, settings: AppSettings) -> PlanOut:
    """Plan the next period now and make it the active plan (operators)."""
    plan = planning.run(db, actor=user, method=body.method, timezone=settings.timezone)
    return PlanOut.of(plan)


@router.get("/plans/active", response_model=PlanOut, responses=errors(401, 403, 404))
def active_plan(user: CurrentUser, db: DbSession) -> PlanOut:
    """The plan serving uses: period, supply per surface, demand per kind (operators)."""
    require_role(user, Role.OPERATOR)
    plan = planning.active_plan(db)
    if plan is None:
        raise NotFound("No serving plan yet.")
    return PlanOut.of(plan)


@router.get("/config", response_model=ConfigOut, responses=errors(401, 403))
def get_config(user: CurrentUser, db: DbSession) -> ConfigOut:
    """The active traffic configuration (operators)."""
    require_role(user, Role.OPERATOR)
    return _config_out(db)


@router.put("/config", response_model=ConfigOut, responses=errors(401, 403, 422))
def put_config(body: ConfigIn, user: CurrentUser, db: DbSession) -> ConfigOut:
    """Validate and activate a new configuration version (operators)."""
    traffic_config.save(db, actor=user, data=body.config, note=body.note)
    return _config_out(db)
