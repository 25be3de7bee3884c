"""Reading scores: a mini-app's latest score and its trend (owner side and operators), cycles and
the score distribution (operators)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from townsquare.accounts.models import Role, User
from townsquare.accounts.permissions import require_role
from townsquare.core.errors import NotFound
from townsquare.core.text import well_formed
from townsquare.miniapps import registry
from townsquare.scoring.model.catalogue import TIERS
from townsquare.scoring.models import CycleState, MiniAppScore, ScoreCycle


def score_history(
    db: Session, *, actor: User | None, miniapp_id: str, limit: int = 26
) -> list[MiniAppScore]:
    """The mini-app's scores in finished cycles, oldest first (the newest `limit`)."""
    miniapp = registry.get_miniapp(db, actor=actor, public_id=miniapp_id)
    stmt = (
        select(MiniAppScore)
        .join(ScoreCycle, ScoreCycle.id == MiniAppScore.cycle_id)
        .where(MiniAppScore.miniapp_id == miniapp.id, ScoreCycle.state == CycleState.DONE)
        .order_by(ScoreCycle.as_of.desc())
        .limit(max(1, min(limit, 200)))
    )
    return list(reversed(db.scalars(stmt).all()))


def latest_score(db: Session, *, actor: User | None, miniapp_id: str) -> MiniAppScore | None:
    history = score_history(db, actor=actor, miniapp_id=miniapp_id, limit=1)
    return history[-1] if history else None


def list_cycles(db: Session, *, actor: User | None, limit: int = 52) -> list[ScoreCycle]:
    """Cycles, newest first (operators)."""
    require_role(actor, Role.OPERATOR)
    stmt = select(ScoreCycle).order_by(ScoreCycle.as_of.desc()).limit(max(1, min(limit, 500)))
    return list(db.scalars(stmt))


def get_cycle(db: Session, *, actor: User | None, public_id: str) -> ScoreCycle:
    require_role(actor, Role.OPERATOR)
    cycle = None
    if well_formed(public_id, "cyc"):
        cycle = db.scalar(select(ScoreCycle).where(ScoreCycle.public_id == public_id))
    if cycle is None:
        raise NotFound("No such scoring cycle.")
    return cycle


def latest_cycle(db: Session, *, actor: User | None) -> ScoreCycle | None:
    require_role(actor, Role.OPERATOR)
    stmt = (
        select(ScoreCycle)
        .where(ScoreCycle.state == CycleState.DONE)
        .order_by(ScoreCycle.as_of.desc())
        .limit(1)
    )
    return db.scalar(stmt)


def cycle_scores(db: Session, *, actor: User | None, cycle: ScoreCycle) -> list[MiniAppScore]:
    """A cycle's scores, best first (operators)."""
    require_role(actor, Role.OPERATOR)
    stmt = (
        select(MiniAppScore)
        .where(MiniAppScore.cycle_id == cycle.id)
        .order_by(MiniAppScore.overall.desc().nulls_last(), MiniAppScore.id)
    )
    return list(db.scalars(stmt))


def tier_counts(scores: list[MiniAppScore]) -> dict[str, int]:
    counts = {tier: 0 for tier in TIERS}
    for score in scores:
        if score.tier:
            counts[score.tier] = counts.get(score.tier, 0) + 1
    return counts


def histogram(values: list[float], *, bins: int = 10) -> list[int]:
    """Counts of scores in [0,10), [10,20) … [90,100]."""
    counts = [0] * bins
    for value in values:
        index = min(int(value // (100 / bins)), bins - 1)
        counts[max(index, 0)] += 1
    return counts
