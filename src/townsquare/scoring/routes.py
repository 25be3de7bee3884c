"""Scoring JSON API: a mini-app's scores and complaints (its owner side and operators), cycles and
configuration (operators), complaint disputes (owners open, operators decide)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from townsquare.accounts.deps import CurrentUser
from townsquare.accounts.models import Role
from townsquare.accounts.permissions import require_role
from townsquare.core.errors import NotFound
from townsquare.scoring import config_versions, cycles, disputes, queries
from townsquare.scoring.models import DisputeState
from townsquare.scoring.schemas import (
    ComplaintOut,
    ConfigIn,
    ConfigOut,
    CycleIn,
    CycleOut,
    DecisionIn,
    DisputeIn,
    DisputeOut,
    ScoreOut,
)
from townsquare.web.deps import AppSettings, DbSession
from townsquare.web.openapi import PublicId, errors

router = APIRouter(prefix="/api", tags=["scoring"])


@router.get("/miniapps/{miniapp_id}/score", response_model=ScoreOut, responses=errors(401, 404))
def latest_score(miniapp_id: PublicId, user: CurrentUser, db: DbSession) -> ScoreOut:
    """The mini-app's score in the newest cycle, with its full explanation."""
    score = queries.latest_score(db, actor=user, miniapp_id=miniapp_id)
    if score is None:
        raise NotFound("This mini-app has no score yet.")
    return ScoreOut.of(score)


@router.get(
    "/miniapps/{miniapp_id}/scores", response_model=list[ScoreOut], responses=errors(401, 404)
)
def score_history(
    miniapp_id: PublicId,
    user: CurrentUser,
    db: DbSession,
    limit: Annotated[int, Query(ge=1, le=200)] = 26,
) -> list[ScoreOut]:
    """The mini-app's scores over the newest cycles, oldest first."""
    history = queries.score_history(db, actor=user, miniapp_id=miniapp_id, limit=limit)
    return [ScoreOut.of(s) for s in history]


@router.get(
    "/miniapps/{miniapp_id}/complaints",
    response_model=list[ComplaintOut],
    responses=errors(401, 404),
)
def complaints(miniapp_id: PublicId, user: CurrentUser, db: DbSession) -> list[ComplaintOut]:
    """The mini-app's newest complaints and their disputes."""
    return [
        ComplaintOut(
            event_id=c.event_id,
            occurred_at=c.occurred_at,
            category=c.category,
            resolution=c.resolution,
            dispute=DisputeOut.of(c.dispute) if c.dispute else None,
        )
        for c in disputes.complaints_of(db, actor=user, miniapp_id=miniapp_id)
    ]


@router.get("/miniapps/{miniapp_id}/tier", responses=errors(401, 404))
def tier(miniapp_id: PublicId, user: CurrentUser, db: DbSession) -> dict[str, str | None]:
    """The mini-app's current tier (the one the traffic system uses)."""
    score = queries.latest_score(db, actor=user, miniapp_id=miniapp_id)
    return {"miniapp_id": miniapp_id, "tier": score.tier if score else None}


@router.get("/scoring/cycles", response_model=list[CycleOut], responses=errors(401, 403))
def list_cycles(
    user: CurrentUser, db: DbSession, limit: Annotated[int, Query(ge=1, le=500)] = 52
) -> list[CycleOut]:
    """Scoring cycles, newest first (operators)."""
    return [CycleOut.of(c) for c in queries.list_cycles(db, actor=user, limit=limit)]


@router.post("/scoring/cycles", response_model=CycleOut, responses=errors(401, 403, 422))
def run_cycle(body: CycleIn, user: CurrentUser, db: DbSession, settings: AppSettings) -> CycleOut:
    """Run (or re-run) the cycle as of a date now (operators)."""
    require_role(user, Role.OPERATOR)
    return CycleOut.of(cycles.run_cycle(db, settings=settings, as_of=body.as_of, actor=user))


@router.get("/scoring/cycles/{cycle_id}", response_model=CycleOut, responses=errors(401, 403, 404))
def get_cycle(cycle_id: PublicId, user: CurrentUser, db: DbSession) -> CycleOut:
    return CycleOut.of(queries.get_cycle(db, actor=user, public_id=cycle_id))


@router.get(
    "/scoring/cycles/{cycle_id}/scores",
    response_model=list[ScoreOut],
    responses=errors(401, 403, 404),
)
def cycle_scores(cycle_id: PublicId, user: CurrentUser, db: DbSession) -> list[ScoreOut]:
    """A cycle's scores, best first (operators)."""
    cycle = queries.get_cycle(db, actor=user, public_id=cycle_id)
    return [ScoreOut.of(s) for s in queries.cycle_scores(db, actor=user, cycle=cycle)]


def _config_out(db) -> ConfigOut:
    row = config_versions.active_version(db)
    return ConfigOut(
        version=row.version,
        cycle_days=row.cycle_days,
        window_days=row.window_days,
        config=row.config,
        editable=config_versions.editable_numbers(row.config),
        created_at=row.created_at,
    )


@router.get("/scoring/config", response_model=ConfigOut, responses=errors(401, 403))
def get_config(user: CurrentUser, db: DbSession) -> ConfigOut:
    """The active scoring configuration (operators)."""
    require_role(user, Role.OPERATOR)
    return _config_out(db)


@router.post("/scoring/config", response_model=ConfigOut, responses=errors(401, 403, 422))
def save_config(body: ConfigIn, user: CurrentUser, db: DbSession) -> ConfigOut:
    """Save changed weights or thresholds as a new active version (operators)."""
    config_versions.save_config(
        db,
        actor=user,
        changes=body.changes,
        cycle_days=body.cycle_days,
        window_days=body.window_days,
        note=body.note,
    )
    return _config_out(db)


@router.post(
    "/disputes",
    response_model=DisputeOut,
    status_code=201,
    responses=errors(401, 403, 404, 409, 422),
)
def open_dispute(body: DisputeIn, user: CurrentUser, db: DbSession) -> DisputeOut:
    """Dispute a complaint of your mini-app with a reason."""
    return DisputeOut.of(
        disputes.open_dispute(
            db, actor=user, miniapp_id=body.miniapp_id, event_id=body.event_id, reason=body.reason
        )
    )


@router.get("/disputes", response_model=list[DisputeOut], responses=errors(401, 403))
def list_disputes(
    user: CurrentUser, db: DbSession, state: DisputeState | None = None
) -> list[DisputeOut]:
    """Disputes, oldest first (operators)."""
    return [DisputeOut.of(d) for d in disputes.list_disputes(db, actor=user, state=state)]


@router.get("/disputes/{dispute_id}", response_model=DisputeOut, responses=errors(401, 404))
def get_dispute(dispute_id: PublicId, user: CurrentUser, db: DbSession) -> DisputeOut:
    return DisputeOut.of(disputes.get_dispute(db, actor=user, public_id=dispute_id))


@router.post(
    "/disputes/{dispute_id}/decision",
    response_model=DisputeOut,
    responses=errors(401, 403, 404, 409, 422),
)
def decide(dispute_id: PublicId, body: DecisionIn, user: CurrentUser, db: DbSession) -> DisputeOut:
    """Uphold the complaint (it keeps counting) or dismiss it (operators)."""
    return DisputeOut.of(
        disputes.decide_dispute(
            db, actor=user, dispute_id=dispute_id, decision=body.decision, reason=body.reason
        )
    )
