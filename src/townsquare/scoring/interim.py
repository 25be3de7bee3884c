"""Interim re-scores: a spike of complaints or refunds the platform observed re-scores that
mini-app between cycles, so traffic reacts within hours instead of at the next weekly cycle.

A spike (`spikes`): at least `spike_min_events` platform-observed complaints and refunds in the
last `spike_hours`, and at least `spike_factor` times the mini-app's usual count for as long
(its rate over the window before). Only the platform's own records count (ids beginning
`PLATFORM_PREFIX`): a mini-app cannot trigger a re-score of a competitor, nor avoid one by not
reporting. `rescore` runs the cycle's analytic part as of today over every mini-app (a score is
judged against peers) and replaces the spiking mini-apps' rows in the newest finished cycle,
which is what traffic reads (`scoring.standings`); each row keeps the cycle's own overall and
tier beside the interim ones (`result["interim"]`), and the run is audited. The next cycle
replaces them all. `scoring.jobs.run_interim` runs it (`townsquare score interim`, for cron).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, delete, func, select
from sqlalchemy.orm import Session

from townsquare.core import audit
from townsquare.core.clock import clock
from townsquare.core.database import table_of
from townsquare.core.errors import Conflict
from townsquare.core.settings import Settings
from townsquare.events.models import PLATFORM_PREFIX, BehaviourEvent, EventType
from townsquare.scoring import config_versions, cycles, disputes
from townsquare.scoring.model.config import ScoringConfig
from townsquare.scoring.models import CycleState, MiniAppScore, ScoreCycle, TierHistory
from townsquare.scoring.pipeline import evaluate

SPIKE_TYPES = (EventType.COMPLAINT, EventType.REFUND)


@dataclass(frozen=True)
class Spike:
    """A mini-app's platform-observed complaints and refunds far above its usual rate."""

    miniapp_id: int
    recent: int  # in the last spike_hours
    usual: float  # its usual count for as long (over the window before)
    latest: datetime  # the newest of them


def spikes(db: Session, *, now: datetime, config: ScoringConfig,
           window_days: int) -> list[Spike]:
    """The mini-apps whose complaints and refunds spike now (see the module), by id."""
    recent_start = now - timedelta(hours=config.spike_hours)
    base_start = recent_start - timedelta(days=window_days)
    e = BehaviourEvent
    is_recent = e.occurred_at >= recent_start
    rows = db.execute(
        select(e.miniapp_id,
               func.sum(case((is_recent, 1), else_=0)),
               func.sum(case((is_recent, 0), else_=1)),
               func.max(e.occurred_at))
        .where(e.type.in_(SPIKE_TYPES), e.event_id.startswith(PLATFORM_PREFIX, autoescape=True),
               e.occurred_at >= base_start, e.occurred_at <= now)
        .group_by(e.miniapp_id)
        .order_by(e.miniapp_id)
    ).all()
    found = []
    share = config.spike_hours / (window_days * 24)
    for miniapp_id, recent, before, latest in rows:
        usual = float(before or 0) * share
        if recent >= config.spike_min_events and recent >= config.spike_factor * usual:
            found.append(Spike(miniapp_id, int(recent), round(usual, 3), latest))
    return found


def _unanswered(db: Session, cycle: ScoreCycle, found: list[Spike]) -> list[Spike]:
    """The spikes not re-scored yet (a row re-scored after the newest event of its spike)."""
    if not found:
        return []
    stmt = select(MiniAppScore.miniapp_id, MiniAppScore.result).where(
        MiniAppScore.cycle_id == cycle.id,
        MiniAppScore.miniapp_id.in_([s.miniapp_id for s in found]))
    done: dict[int, dict[str, Any]] = dict(db.execute(stmt).tuples().all())
    out = []
    for spike in found:
        at = ((done.get(spike.miniapp_id) or {}).get("interim") or {}).get("at")
        latest = spike.latest.replace(tzinfo=None).isoformat()
        if not (isinstance(at, str) and at >= latest):
            out.append(spike)
    return out


def rescore(db: Session, *, settings: Settings, now: datetime | None = None) -> list[Spike]:
    """Re-score, as of today, every mini-app whose complaints or refunds spike and was not
    re-scored since; returns the spikes answered ([] when none, or no cycle finished yet)."""
    now = now or clock.now()
    version, config = config_versions.active_config(db)
    cycle = db.scalar(select(ScoreCycle).where(ScoreCycle.state == CycleState.DONE)
                      .order_by(ScoreCycle.as_of.desc()).limit(1))
    if cycle is None:
        return []
    found = _unanswered(db, cycle, spikes(db, now=now, config=config,
                                          window_days=version.window_days))
    if not found:
        return []
    if not cycles.cycle_lock(db):
        raise Conflict("A scoring run is under way; try again when it has finished.",
                       code="cycle_running")
    today = now.date()
    window = version.window_days
    cycles.update_event_log(db, settings=settings, since=today - timedelta(days=window - 1),
                            until=today)
    output = evaluate(cycles.events_dir(settings), as_of=today, window_days=window,
                      config=config, excluded=disputes.dismissed_event_ids(db))
    by_id = {r.miniapp_id: r for r in output.results}
    answered = []
    for spike in found:
        result = by_id.get(spike.miniapp_id)
        if result is None:
            continue
        old = db.scalar(select(MiniAppScore).where(MiniAppScore.cycle_id == cycle.id,
                                                   MiniAppScore.miniapp_id == spike.miniapp_id))
        row = cycles.score_row(cycle, spike.miniapp_id, output, result)
        row["result"]["interim"] = {
            "at": now.replace(tzinfo=None).isoformat(), "as_of": today.isoformat(),
            "complaints_and_refunds": spike.recent, "usual": spike.usual,
            "cycle_overall": old.overall if old else None, "cycle_tier": old.tier if old else None,
        }
        db.execute(delete(MiniAppScore).where(MiniAppScore.cycle_id == cycle.id,
                                              MiniAppScore.miniapp_id == spike.miniapp_id))
        db.execute(delete(TierHistory).where(TierHistory.cycle_id == cycle.id,
                                             TierHistory.miniapp_id == spike.miniapp_id))
        db.execute(table_of(MiniAppScore).insert(), [row])
        if row["tier"]:
            db.execute(table_of(TierHistory).insert(), [{
                "miniapp_id": spike.miniapp_id, "cycle_id": cycle.id, "as_of": cycle.as_of,
                "tier": row["tier"]}])
        audit.record(db, actor_id=None, action="scoring.interim_rescore",
                     subject_type="miniapp", subject_id=str(spike.miniapp_id),
                     cycle=cycle.public_id, as_of=today.isoformat(), recent=spike.recent,
                     usual=spike.usual, overall=row["overall"], tier=row["tier"],
                     cycle_overall=old.overall if old else None,
                     cycle_tier=old.tier if old else None)
        answered.append(spike)
    db.flush()
    db.expire_all()
    return answered
