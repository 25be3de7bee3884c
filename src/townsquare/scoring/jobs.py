"""Scoring's periodic work as the CLI and a scheduler run it: one cycle in its own unit of
work, with a failure recorded in a fresh one (never over another run's cycle)."""

from __future__ import annotations

from datetime import date

from townsquare.core.database import Database, unavailable
from townsquare.core.errors import TownsquareError
from townsquare.core.settings import Settings
from townsquare.scoring import cycles
from townsquare.scoring.integrity import jobs as integrity_jobs
from townsquare.scoring.models import ScoreCycle
from townsquare.scoring.pipeline import Step


def run_cycle(
    database: Database,
    *,
    settings: Settings,
    as_of: date,
    backend: str = "duckdb",
    progress: Step | None = None,
) -> tuple[str, dict[str, object]]:
    """Run the cycle as of `as_of`; returns its public id and counts.

    A domain error (another run of the date under way, a bad date) is raised untouched and
    records nothing; the database being unavailable or locked is raised untouched too (there is
    nothing to record it in); any other failure is recorded on the cycle by `mark_failed`."""
    try:
        with database.unit_of_work() as db:
            cycle: ScoreCycle = cycles.run_cycle(
                db, settings=settings, as_of=as_of, actor=None, progress=progress, backend=backend
            )
            done = cycle.public_id, dict(cycle.counts)
    except Exception as exc:
        if isinstance(exc, TownsquareError) or unavailable(exc):
            raise
        with database.unit_of_work() as db:
            cycles.mark_failed(db, as_of=as_of, error=repr(exc))
        raise
    integrity_jobs.detect(database, as_of=as_of)  # anti-fraud flags for the operator's review
    return done


def run_interim(database: Database, *, settings: Settings) -> list[int]:
    """Re-score the mini-apps whose complaints or refunds spike (`scoring.interim`) in one unit
    of work; the ids re-scored. Run it between cycles (hourly, say)."""
    from townsquare.scoring import interim

    with database.unit_of_work() as db:
        return [spike.miniapp_id for spike in interim.rescore(db, settings=settings)]
