"""Standings: the newest finished cycle's score and tier of each mini-app, the one thing other
domains (traffic) read of scoring."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date
from types import MappingProxyType

from sqlalchemy import select
from sqlalchemy.orm import Session

from townsquare.scoring import config_versions
from townsquare.scoring.models import CycleState, MiniAppScore, ScoreCycle


@dataclass(frozen=True)
class Standing:
    """One mini-app's result in a cycle (both None: not enough data to be scored)."""

    score: float | None  # the overall score
    tier: str | None


@dataclass(frozen=True)
class Standings:
    """A finished cycle's standings, with what a reader needs to act on them."""

    cycle: str  # the cycle's public id
    as_of: date
    cycle_days: int  # the active scoring configuration's cycle length
    by_miniapp: Mapping[int, Standing]  # keyed by the mini-app's row id


def standings(db: Session, *, miniapp_ids: Collection[int] | None = None) -> Standings | None:
    """The newest finished cycle's score and tier of each mini-app (None: no finished cycle)."""
    cycle = db.execute(  # the columns only: read on every gateway score query
        select(ScoreCycle.id, ScoreCycle.public_id, ScoreCycle.as_of)
        .where(ScoreCycle.state == CycleState.DONE)
        .order_by(ScoreCycle.as_of.desc())
        .limit(1)
    ).one_or_none()
    if cycle is None:
        return None
    stmt = select(MiniAppScore.miniapp_id, MiniAppScore.overall, MiniAppScore.tier).where(
        MiniAppScore.cycle_id == cycle.id
    )
    if miniapp_ids is not None:
        stmt = stmt.where(MiniAppScore.miniapp_id.in_(list(miniapp_ids)))
    found = {miniapp_id: Standing(overall, tier) for miniapp_id, overall, tier in db.execute(stmt)}
    return Standings(
        cycle=cycle.public_id,
        as_of=cycle.as_of,
        cycle_days=config_versions.active_version(db).cycle_days,
        by_miniapp=MappingProxyType(found),
    )
