"""`townsquare.data.service.score.query`: the mini-app's score and tier from the newest finished
cycle, with the suggestions scoring made for it in that cycle (through scoring's public door)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from tests.gateway import gateway_world
from tests.gateway.test_gateway_http import answer, signed
from townsquare.core.clock import clock
from townsquare.miniapps.models import MiniApp
from townsquare.scoring import config_versions
from townsquare.scoring.model.suggestions import Suggestion
from townsquare.scoring.models import CycleState, MiniAppScore, ScoreCycle

METHOD = "townsquare.data.service.score.query"
KEY = "townsquare_data_service_score_query_response"


def _suggestion(metric: str, points: float) -> dict:
    return Suggestion(metric=metric, label_en=metric.title(), label_zh=f"{metric}指标",
                      current=0.8, median=0.9, top_quartile=0.95, points=points,
                      text_en=f"Raise {metric}", text_zh=f"提升{metric}").to_json()


def _cycle(database, world, as_of: date, *, overall: float | None, suggestions: list) -> str:
    with database.unit_of_work() as db:
        miniapp = db.scalar(select(MiniApp).where(MiniApp.public_id == world.miniapp_id))
        cycle = ScoreCycle(as_of=as_of, state=CycleState.DONE, started_at=clock.now(),
                           finished_at=clock.now(),
                           config_version_id=config_versions.active_version(db).id)
        db.add(cycle)
        db.flush()
        db.add(MiniAppScore(cycle_id=cycle.id, miniapp_id=miniapp.id,
                            state="scored" if overall is not None else "insufficient_data",
                            overall=overall, tier="B" if overall is not None else None,
                            suggestions=suggestions))
        return cycle.public_id


@pytest.fixture
def world(database, settings, make_user):
    return gateway_world.build(database, settings, make_user, packages=("data",))


def test_no_cycle_yet(client, world):
    found = answer(client.post("/gateway.do", data=signed(world, METHOD)), KEY)
    assert found["code"] == "10000" and found["scored"] is False


def test_score_tier_and_the_newest_cycles_suggestions(client, database, world):
    today = clock.now().date()
    _cycle(database, world, today - timedelta(days=7), overall=60.0,
           suggestions=[_suggestion("old_metric", 9.0)])
    newest = _cycle(database, world, today, overall=78.44, suggestions=[
        _suggestion("fulfillment_rate", 1.5), _suggestion("rating_mean", 3.25)])
    found = answer(client.post("/gateway.do", data=signed(world, METHOD)), KEY)
    assert found["code"] == "10000" and found["scored"] is True
    assert (found["cycle_id"], found["score"], found["tier"]) == (newest, "78.4", "B")
    assert [s["metric"] for s in found["suggestions"]] == ["rating_mean", "fulfillment_rate"]
    first = found["suggestions"][0]
    assert first == {"metric": "rating_mean", "label": "rating_mean指标",
                     "label_en": "Rating_Mean", "text": "提升rating_mean",
                     "text_en": "Raise rating_mean", "points_gained": "3.2", "current": 0.8,
                     "median": 0.9}


def test_not_scored_this_cycle_has_no_suggestions(client, database, world):
    _cycle(database, world, clock.now().date(), overall=None, suggestions=[])
    found = answer(client.post("/gateway.do", data=signed(world, METHOD)), KEY)
    assert found["scored"] is False and "suggestions" not in found
