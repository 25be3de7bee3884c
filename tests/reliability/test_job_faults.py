"""Issue 13, item 6: two `score run`s of one date never mark a good cycle failed (one run per
cycle at a time; a run never marks another run's cycle)."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import select, text

from tests.scoring.cycle_world import AS_OF, build_market
from townsquare.core.errors import Conflict
from townsquare.scoring import cycles, jobs
from townsquare.scoring.models import CycleState, ScoreCycle


def _waiting_or_done(database, done: threading.Event, deadline_s: float = 60) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline and not done.is_set():
        with database.engine.connect() as conn:
            if conn.scalar(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'"
            )):
                return
        time.sleep(0.02)


@pytest.mark.postgres_only
def test_a_second_run_of_the_same_date_never_marks_the_first_failed(database, settings):
    build_market(database)
    at_the_end, release = threading.Event(), threading.Event()
    first: dict[str, object] = {}

    def step(label: str, _done: float) -> None:
        if label == "done":  # the first run has stored everything and not committed yet
            at_the_end.set()
            assert release.wait(60)

    def first_run() -> None:
        try:
            with database.unit_of_work() as db:
                first["id"] = cycles.run_cycle(db, settings=settings, as_of=AS_OF, actor=None,
                                               progress=step).public_id
        except Exception as exc:  # noqa: BLE001 — the test reports it
            first["error"] = exc

    one = threading.Thread(target=first_run)
    one.start()
    assert at_the_end.wait(120)
    second: dict[str, object] = {}
    second_done = threading.Event()

    def second_run() -> None:
        try:
            second["result"] = jobs.run_cycle(database, settings=settings, as_of=AS_OF)
        except Exception as exc:  # noqa: BLE001 — the test looks at it
            second["error"] = exc
        finally:
            second_done.set()

    two = threading.Thread(target=second_run)
    two.start()
    _waiting_or_done(database, second_done)
    release.set()
    one.join(120)
    two.join(120)
    assert "error" not in first, first.get("error")
    assert isinstance(second.get("error"), Conflict)  # refused while the first one ran
    with database.unit_of_work() as db:
        cycle = db.scalar(select(ScoreCycle).where(ScoreCycle.as_of == AS_OF))
        assert cycle.public_id == first["id"] and cycle.state is CycleState.DONE


def test_a_failed_rerun_leaves_the_finished_cycle_standing(database, settings, monkeypatch):
    build_market(database)
    jobs.run_cycle(database, settings=settings, as_of=AS_OF)

    def broken(*_args, **_kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(cycles, "evaluate", broken)
    with pytest.raises(RuntimeError):
        jobs.run_cycle(database, settings=settings, as_of=AS_OF)
    with database.unit_of_work() as db:
        cycle = db.scalar(select(ScoreCycle).where(ScoreCycle.as_of == AS_OF))
        assert cycle.state is CycleState.DONE and cycle.counts["miniapps"] > 0
