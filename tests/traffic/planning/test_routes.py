"""The planning API: operators run plans, read the active one and edit the configuration."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from tests.traffic.plan_world import score_cycle
from tests.traffic.world import build_world
from townsquare.core.clock import clock
from townsquare.traffic.models import PlanAllocation, ServingPlan, TrafficConfigVersion

NOW = datetime(2026, 3, 10, 4, 0, tzinfo=UTC)


def test_operator_runs_a_plan_and_reads_it(database, client, token_for):
    clock.freeze(NOW)
    world = build_world(database)
    with database.unit_of_work() as db:
        score_cycle(db, world, as_of=NOW.date(), at=NOW)
    operator = token_for(world.operator)
    assert client.get("/api/traffic/plans/active", headers=operator).status_code == 404

    response = client.post("/api/traffic/plans", json={"method": "greedy"}, headers=operator)
    assert response.status_code == 201, response.text
    made = response.json()
    assert made["method"] == "greedy" and made["id"].startswith("pln_")
    active = client.get("/api/traffic/plans/active", headers=operator).json()
    assert active["id"] == made["id"]
    lines = {line["kind"]: line for line in active["demand"]}
    assert lines["tier_incentive"] == {
        "kind": "tier_incentive", "promises": 4, "requested": 6600, "planned": 6600,
        "shortfall": 0,
    }
    assert lines["cold_start"]["promises"] == 1
    assert active["planned"] == sum(line["planned"] for line in active["demand"])
    assert set(active["supply_by_surface"]) == {"feed", "search"}
    assert active["supply"] == sum(active["supply_by_surface"].values())

    second = client.post("/api/traffic/plans", json={}, headers=operator).json()
    assert second["method"] == "exact" and second["id"] != made["id"]
    assert client.get("/api/traffic/plans/active", headers=operator).json()["id"] == second["id"]
    with database.unit_of_work() as db:
        assert db.scalar(select(func.count()).select_from(ServingPlan)) == 2
        assert db.scalar(select(func.count()).select_from(PlanAllocation)) > 0


def test_others_may_not_plan_or_configure(database, client, token_for):
    world = build_world(database)
    for user in (world.owner, world.resident):
        headers = token_for(user)
        assert client.post("/api/traffic/plans", json={}, headers=headers).status_code == 403
        assert client.get("/api/traffic/plans/active", headers=headers).status_code == 403
        assert client.get("/api/traffic/config", headers=headers).status_code == 403
        assert client.put("/api/traffic/config", json={"config": {}},
                          headers=headers).status_code == 403
    assert client.post("/api/traffic/plans", json={}).status_code == 401
    bad = client.post("/api/traffic/plans", json={"method": "simplex"},
                      headers=token_for(world.operator))
    assert bad.status_code == 422
    with database.unit_of_work() as db:
        assert db.scalar(select(func.count()).select_from(ServingPlan)) == 0
        assert db.scalar(select(func.count()).select_from(TrafficConfigVersion)) == 0


def test_operator_reads_and_replaces_the_configuration(database, client, token_for):
    world = build_world(database)
    operator = token_for(world.operator)
    first = client.get("/api/traffic/config", headers=operator).json()
    assert first["version"] is None and first["config"]["plan_days"] == 7

    changed = {**first["config"], "plan_days": 14, "guaranteed_share": 0.5}
    saved = client.put("/api/traffic/config", json={"config": changed, "note": "longer plans"},
                       headers=operator)
    assert saved.status_code == 200, saved.text
    assert saved.json()["version"] == 1 and saved.json()["config"]["plan_days"] == 14

    for broken in ({"plan_days": 0}, {"unknown_knob": 1},
                   {"priorities": {"points": 1.0}}, {"sponsored_positions": [99]}):
        response = client.put("/api/traffic/config", json={"config": broken}, headers=operator)
        assert response.status_code == 422, (broken, response.text)
        assert response.json()["error"]["code"] == "invalid"
    again = client.get("/api/traffic/config", headers=operator).json()
    assert again["version"] == 1 and again["config"]["guaranteed_share"] == 0.5
