"""Scoring cycles end to end: events in the database → Parquet → scores, tiers and suggestions
stored; a re-run replaces the cycle with the same results; the current tier; the schedule."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.scoring.cycle_world import AS_OF, Market, build_market
from townsquare.core.audit import AuditEntry
from townsquare.core.errors import PermissionDenied, ValidationFailed
from townsquare.miniapps.models import MiniApp
from townsquare.scoring import config_versions, cycles, queries, standings
from townsquare.scoring.models import CycleState, MiniAppScore, ScoreCycle, TierHistory


@pytest.fixture
def market(database) -> Market:
    return build_market(database)


def _tier(db, public_id: str) -> str | None:
    """The tier other domains read (`scoring.standings`) of a mini-app, by its public id."""
    app_id = db.scalar(select(MiniApp.id).where(MiniApp.public_id == public_id))
    return standings(db, miniapp_ids=[app_id]).by_miniapp[app_id].tier


def _scores(db, cycle) -> dict[str, MiniAppScore]:
    rows = db.scalars(select(MiniAppScore).where(MiniAppScore.cycle_id == cycle.id))
    return {row.miniapp.public_id: row for row in rows}


def test_a_cycle_scores_every_miniapp_with_an_explanation(database, settings, market):
    with database.unit_of_work() as db:
        cycle = cycles.run_cycle(db, settings=settings, as_of=AS_OF, actor=None)
        scores = _scores(db, cycle)
        assert cycle.state == CycleState.DONE and cycle.finished_at is not None
        assert cycle.counts["miniapps"] == 11 and cycle.counts["scored"] >= 10
        assert cycle.model_version
        assert (settings.data_dir / "events" / f"date={AS_OF.isoformat()}").is_dir()

        ours = scores[market.ours]
        assert ours.state == "scored" and 0 <= ours.overall <= 100
        assert {"benchmarks", "contributions", "metrics"} <= set(ours.result)
        assert ours.result["benchmarks"]["fulfillment_rate"]["median"] is not None
        assert ours.tier in {"S", "A", "B", "C", "D"} and ours.rank >= 1

        # the service quality shows through: the best competitor outscores the worst one
        by_quality = sorted(market.competitors, key=market.competitors.get)
        assert scores[by_quality[-1]].overall > scores[by_quality[0]].overall
        worst = scores[by_quality[0]]
        assert worst.suggestions, "an app behind its peers gets suggestions"
        # the brand-new app with one perfect order is not scored above established good ones
        new = scores[market.new_app]
        assert new.state == "insufficient_data" or new.overall < scores[by_quality[-1]].overall

        assert _tier(db, market.ours) == ours.tier
        app_id = db.scalar(select(MiniApp.id).where(MiniApp.public_id == market.ours))
        assert standings(db).by_miniapp[app_id].tier == ours.tier
        assert db.scalar(select(func.count()).select_from(TierHistory)) == sum(
            1 for s in scores.values() if s.tier
        )
        audit = db.scalars(select(AuditEntry).where(AuditEntry.action == "scoring.cycle_run"))
        assert [a.subject_id for a in audit] == [cycle.public_id]


def test_rerunning_a_date_replaces_it_with_the_same_results(database, settings, market):
    with database.unit_of_work() as db:
        first = cycles.run_cycle(db, settings=settings, as_of=AS_OF, actor=None)
        before = {
            k: (s.overall, s.tier, s.rank, s.suggestions) for k, s in _scores(db, first).items()
        }
    with database.unit_of_work() as db:
        again = cycles.run_cycle(db, settings=settings, as_of=AS_OF, actor=None)
        after = {
            k: (s.overall, s.tier, s.rank, s.suggestions) for k, s in _scores(db, again).items()
        }
        assert again.public_id == first.public_id
        assert db.scalar(select(func.count()).select_from(ScoreCycle)) == 1
        assert db.scalar(select(func.count()).select_from(MiniAppScore)) == len(before)
        assert db.scalar(select(func.count()).select_from(TierHistory)) == sum(
            1 for v in before.values() if v[1]
        )
    assert after == before


def test_trend_and_current_tier_follow_the_newest_cycle(database, settings, market):
    with database.unit_of_work() as db:
        cycles.run_cycle(db, settings=settings, as_of=AS_OF - timedelta(days=7), actor=None)
        cycles.run_cycle(db, settings=settings, as_of=AS_OF, actor=None)
    with database.unit_of_work() as db:
        history = queries.score_history(db, actor=market.owner, miniapp_id=market.ours)
        assert [s.cycle.as_of for s in history] == [AS_OF - timedelta(days=7), AS_OF]
        assert _tier(db, market.ours) == history[-1].tier
        assert cycles.next_due(db) == AS_OF + timedelta(days=7)


def test_only_operators_and_the_system_run_cycles_and_dates_are_checked(database, settings, market):
    with database.unit_of_work() as db:
        for user in (market.owner, market.isv, market.resident):
            with pytest.raises(PermissionDenied):
                cycles.run_cycle(db, settings=settings, as_of=AS_OF, actor=user)
        with pytest.raises(ValidationFailed):
            cycles.run_cycle(
                db, settings=settings, as_of=AS_OF + timedelta(days=1), actor=market.operator
            )
        with pytest.raises(ValidationFailed):
            cycles.run_cycle(db, settings=settings, as_of="2026-03-01", actor=None)
        assert db.scalar(select(func.count()).select_from(ScoreCycle)) == 0


def test_a_new_configuration_version_is_used_and_recorded(database, settings, market):
    with database.unit_of_work() as db:
        first = config_versions.active_version(db)
        numbers = config_versions.editable_numbers(first.config)
        assert numbers, "the operator has weights and thresholds to edit"
        key = next(k for k in numbers if "weight" in k)
        for bad in ({key: -1}, {key: "abc"}, {"no_such_setting": 1}, {key: float("nan")}):
            with pytest.raises(ValidationFailed):
                config_versions.save_config(db, actor=market.operator, changes=bad)
        with pytest.raises(ValidationFailed):
            config_versions.save_config(db, actor=market.operator, changes={}, cycle_days=0)
        with pytest.raises(PermissionDenied):
            config_versions.save_config(db, actor=market.owner, changes={key: 1})
        second = config_versions.save_config(
            db, actor=market.operator, changes={key: numbers[key] + 1}, cycle_days=14
        )
        assert second.version == first.version + 1 and second.active and not first.active
        edited = config_versions.editable_numbers(second.config)
        assert edited[key] == pytest.approx(numbers[key] + 1)
        cycle = cycles.run_cycle(db, settings=settings, as_of=AS_OF, actor=None)
        assert cycle.config_version.version == second.version
        assert cycles.next_due(db) == AS_OF + timedelta(days=14)


def test_a_late_event_for_an_exported_day_is_in_the_next_run(database, settings, market):
    from tests.scoring.cycle_world import NOW
    from townsquare.core.clock import clock
    from townsquare.events import intake

    with database.unit_of_work() as db:
        first = cycles.run_cycle(db, settings=settings, as_of=AS_OF, actor=None)
        visits = _scores(db, first)[market.ours].result["metrics"]["visits"]
    clock.freeze(NOW + timedelta(hours=2))  # received after the last export
    with database.unit_of_work() as db:
        ours = db.scalar(select(MiniApp).where(MiniApp.public_id == market.ours))
        assert intake.record(db, miniapp=ours, type="visit", event_id="late-visit",
                             occurred_at=NOW - timedelta(days=3), sub="ou_" + "ab" * 16)
    with database.unit_of_work() as db:
        again = cycles.run_cycle(db, settings=settings, as_of=AS_OF, actor=None)
        assert _scores(db, again)[market.ours].result["metrics"]["visits"] == visits + 1
