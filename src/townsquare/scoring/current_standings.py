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


def capped(db: Session, *, miniapp_ids: Collection[int]) -> set[int]:
    """Which of `miniapp_ids` the newest finished cycle (or an interim re-score since,
    `scoring.interim`) capped for a severe quality problem (the complaint cap): traffic pauses
    their tier promises while it holds."""
    if not miniapp_ids:
        return set()
    newest = (select(ScoreCycle.id).where(ScoreCycle.state == CycleState.DONE)
              .order_by(ScoreCycle.as_of.desc()).limit(1).scalar_subquery())
    rows = db.execute(select(MiniAppScore.miniapp_id, MiniAppScore.result).where(
        MiniAppScore.cycle_id == newest, MiniAppScore.miniapp_id.in_(list(miniapp_ids))))
    return {miniapp_id for miniapp_id, result in rows
            if isinstance(result, dict) and result.get("cap")}


@dataclass(frozen=True)
class Suggestion:
    """Where a mini-app falls behind its peers' median and what catching up is worth."""

    metric: str
    label_zh: str
    label_en: str
    text_zh: str
    text_en: str
    points: float  # overall points gained by reaching the median
    current: float | None
    median: float | None


def suggestions(db: Session, *, cycle: str, miniapp_id: int) -> list[Suggestion]:
    """The suggestions the cycle `cycle` (public id, as `standings` answers it) made for one
    mini-app, largest gain first ([] when none or not scored)."""
    stored = db.scalar(
        select(MiniAppScore.suggestions)
        .join(ScoreCycle, ScoreCycle.id == MiniAppScore.cycle_id)
        .where(ScoreCycle.public_id == cycle, MiniAppScore.miniapp_id == miniapp_id)
    )
    found = [
        Suggestion(
            metric=str(s.get("metric", "")), label_zh=str(s.get("label_zh", "")),
            label_en=str(s.get("label_en", "")), text_zh=str(s.get("text_zh", "")),
            text_en=str(s.get("text_en", "")), points=float(s.get("points") or 0.0),
            current=_number(s.get("current")), median=_number(s.get("median")),
        )
        for s in stored or [] if isinstance(s, dict)
    ]
    return sorted(found, key=lambda s: -s.points)


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
