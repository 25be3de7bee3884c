"""Scoring cycles: export the window's events to Parquet, score every mini-app, store the scores,
tiers and suggestions. Re-running a date replaces that cycle's results (same events, same
results); other domains read the newest finished cycle through `scoring.standings`."""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from townsquare.accounts.models import Role, User
from townsquare.accounts.permissions import require_role
from townsquare.core import audit
from townsquare.core.clock import clock
from townsquare.core.database import advisory_lock, table_of
from townsquare.core.errors import Conflict, ValidationFailed
from townsquare.core.settings import Settings
from townsquare.miniapps.models import MiniApp
from townsquare.scoring import config_versions, disputes
from townsquare.scoring.integrity import penalties as integrity_penalties
from townsquare.scoring.models import CycleState, MiniAppScore, ScoreCycle, TierHistory
from townsquare.scoring.pipeline import CycleOutput, Step, attr, evaluate, jsonable

OLDEST_AS_OF_DAYS = 3650


def events_dir(settings: Settings):
    return settings.data_dir / "events"


def _check_as_of(as_of: Any) -> date:
    today = clock.now().date()
    if not isinstance(as_of, date) or isinstance(as_of, datetime):
        raise ValidationFailed("Give the date as YYYY-MM-DD.", field="as_of")
    if not today - timedelta(days=OLDEST_AS_OF_DAYS) <= as_of <= today:
        raise ValidationFailed(
            "Choose a date from the last ten years, no later than today.", field="as_of"
        )
    return as_of


def update_event_log(db: Session, *, settings: Settings, since: date, until: date) -> None:
    """Bring the Parquet event log up to date for the window [since, until]: the days that
    received events since the last export, and the window's days whose partition does not hold
    as many events as the database, are (re-)exported and rolled up. So a day is written and
    rolled up once, and again only when late events arrive for it."""
    from townsquare.events.export import export_events
    from townsquare.scoring.metrics import write_day_activity

    export_events(db, out_dir=events_dir(settings), summarise=write_day_activity,
                  check=(since, until))


def cycle_lock(db: Session) -> bool:
    """One scoring run at a time (runs of any two dates share the Parquet event log and the
    first run creates the default configuration): a lock held until the run's transaction
    ends. PostgreSQL: an advisory lock; SQLite: the write lock every writing unit of work
    holds from BEGIN IMMEDIATE."""
    return advisory_lock(db, "townsquare.score_run", wait=False)


def run_cycle(
    db: Session,
    *,
    settings: Settings,
    as_of: date,
    actor: User | None,
    progress: Step | None = None,
    backend: str = "duckdb",
) -> ScoreCycle:
    """Score every mini-app as of `as_of` (operators or the system); replaces a re-run date."""
    require_role(actor, Role.OPERATOR)
    as_of = _check_as_of(as_of)
    if not cycle_lock(db):
        raise Conflict("A scoring run is under way; try again when it has finished.",
                       code="cycle_running")
    step = progress or (lambda _label, _done: None)
    version, config = config_versions.active_config(db)
    window = version.window_days
    started = time.perf_counter()

    cycle = db.scalar(select(ScoreCycle).where(ScoreCycle.as_of == as_of))
    if cycle is None:
        cycle = ScoreCycle(as_of=as_of, started_at=clock.now(), config_version_id=version.id)
        db.add(cycle)
    else:  # a re-run replaces the cycle's results
        db.execute(delete(MiniAppScore).where(MiniAppScore.cycle_id == cycle.id))
        db.execute(delete(TierHistory).where(TierHistory.cycle_id == cycle.id))
    cycle.window_days = window
    cycle.config_version_id = version.id
    cycle.state = CycleState.RUNNING
    cycle.started_at = clock.now()
    cycle.finished_at = None
    cycle.error = ""
    cycle.run_by_id = actor.id if actor else None
    db.flush()

    step("export", 0.05)
    update_event_log(db, settings=settings, since=as_of - timedelta(days=window - 1),
                     until=as_of)
    excluded = disputes.dismissed_event_ids(db)

    def inner(label: str, done: float) -> None:
        step(label, 0.15 + 0.7 * done)

    output = evaluate(
        events_dir(settings),
        as_of=as_of,
        window_days=window,
        config=config,
        excluded=excluded,
        backend=backend,
        step=inner,
    )
    step("store", 0.85)
    stored = _store(db, cycle, output)
    penalised = integrity_penalties.apply(db, cycle)  # confirmed anti-fraud reviews only
    cycle.model_version = str(attr(config, "version", default=""))
    cycle.state = CycleState.DONE
    cycle.finished_at = clock.now()
    scored = int(output.scores.scored.sum())
    cycle.counts = {
        "miniapps": stored,
        "scored": scored,
        "insufficient_data": output.rows - scored,
        "excluded_complaints": len(excluded),
        "integrity_penalties": penalised,
        "seconds": round(time.perf_counter() - started, 3),
        "stages": output.seconds,
    }
    db.flush()
    audit.record(
        db,
        actor_id=actor.id if actor else None,
        action="scoring.cycle_run",
        subject_type="score_cycle",
        subject_id=cycle.public_id,
        as_of=as_of.isoformat(),
        config_version=version.version,
        counts=jsonable(cycle.counts),
    )
    step("done", 1.0)
    return cycle


def _miniapp_ids(db: Session, keys: list[Any]) -> dict[Any, int]:
    """The metrics' miniapp_id (integer id or public id) → MiniApp.id, for apps that exist."""
    ints = [k for k in keys if isinstance(k, int)]
    strs = [k for k in keys if isinstance(k, str)]
    found: dict[Any, int] = {}
    for chunk in range(0, len(ints), 500):
        part = ints[chunk : chunk + 500]
        found.update({i: i for i in db.scalars(select(MiniApp.id).where(MiniApp.id.in_(part)))})
    for chunk in range(0, len(strs), 500):
        names = strs[chunk : chunk + 500]
        stmt = select(MiniApp.public_id, MiniApp.id).where(MiniApp.public_id.in_(names))
        found.update(dict(db.execute(stmt).tuples().all()))
    return found


def _store(db: Session, cycle: ScoreCycle, output: CycleOutput) -> int:
    ids = _miniapp_ids(db, output.ids)
    shared: dict[int, Any] = {}  # each peer group's benchmarks turned into JSON once
    rows, history = [], []
    for result in output.results:
        miniapp_id = ids.get(result.miniapp_id)
        if miniapp_id is None:  # events of a deleted or unknown mini-app
            continue
        row = score_row(cycle, miniapp_id, output, result, shared)
        rows.append(row)
        if row["tier"]:
            history.append({"miniapp_id": miniapp_id, "cycle_id": cycle.id,
                            "as_of": cycle.as_of, "tier": row["tier"]})
    if rows:
        db.execute(table_of(MiniAppScore).insert(), rows)
    if history:
        db.execute(table_of(TierHistory).insert(), history)
    return len(rows)


def score_row(cycle: ScoreCycle, miniapp_id: int, output: CycleOutput, result: Any,
              shared: dict[int, Any] | None = None) -> dict[str, Any]:
    """The stored MiniAppScore columns of one result of `output` (a cycle's or an interim
    re-score's, `scoring.interim`)."""
    decision = output.tiers.get(result.miniapp_id)
    pillars = result.pillars or {}
    return {
        "cycle_id": cycle.id,
        "miniapp_id": miniapp_id,
        "category_code": str(result.category_code or "")[:32],
        "state": result.state,
        "overall": _float(result.overall),
        "volume": _float(pillars.get("volume")),
        "scale": _float(pillars.get("scale")),
        "quality": _float(pillars.get("quality")),
        "tier": decision.tier if decision is not None else None,
        "rank": decision.rank if decision is not None else None,
        "result": result.to_json({} if shared is None else shared),
        "tier_detail": decision.to_json() if decision is not None else {},
        "suggestions": [
            jsonable(s.to_json()) for s in output.suggestions.get(result.miniapp_id, [])
        ],
    }


def _float(value: Any) -> float | None:
    return None if value is None else round(float(value), 4)


def mark_failed(db: Session, *, as_of: date, error: str) -> None:
    """Record a run that raised (called in a fresh transaction after the failed one).

    A run never marks another run's cycle: if another run of the date holds the lock now, or a
    finished cycle of the date exists (the failed run rolled back, so its results still stand),
    the failure goes to the audit log only."""
    error = error[:2000]
    cycle = db.scalar(select(ScoreCycle).where(ScoreCycle.as_of == as_of))
    if not cycle_lock(db) or (cycle is not None and cycle.state is CycleState.DONE):
        audit.record(db, actor_id=None, action="scoring.cycle_run_failed",
                     subject_type="score_cycle", subject_id=cycle.public_id if cycle else "",
                     as_of=as_of.isoformat(), error=error)
        return
    if cycle is None:
        version = config_versions.active_version(db)
        cycle = ScoreCycle(as_of=as_of, started_at=clock.now(), config_version_id=version.id)
        db.add(cycle)
    cycle.state = CycleState.FAILED
    cycle.finished_at = clock.now()
    cycle.error = error
    db.flush()


def next_due(db: Session) -> date:
    """When the next cycle is due: the newest done cycle plus the cycle length (or today)."""
    version = config_versions.active_version(db)
    last = db.scalar(
        select(ScoreCycle.as_of)
        .where(ScoreCycle.state == CycleState.DONE)
        .order_by(ScoreCycle.as_of.desc())
        .limit(1)
    )
    today = clock.now().date()
    return today if last is None else last + timedelta(days=version.cycle_days)


def run_due(db: Session, *, settings: Settings, progress: Step | None = None) -> ScoreCycle | None:
    """The scheduler's entry point: run the cycle if one is due today or earlier."""
    due = next_due(db)
    if due > clock.now().date():
        return None
    return run_cycle(db, settings=settings, as_of=clock.now().date(), actor=None, progress=progress)


def run_recent(
    db: Session, *, settings: Settings, count: int = 4, progress: Step | None = None
) -> list[ScoreCycle]:
    """The last `count` cycles up to today, one cycle length apart (the demo city's trend)."""
    days = config_versions.active_version(db).cycle_days
    today = clock.now().date()
    return [
        run_cycle(db, settings=settings, as_of=today - timedelta(days=days * n), actor=None,
                  progress=progress)
        for n in reversed(range(count))
    ]
