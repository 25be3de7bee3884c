"""The passage log over HTTP: search by household, person, gate and time; CSV export; tracing;
overdue returns; the code and key endpoints; and who may see what."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from townsquare.community.gate import codes
from townsquare.core.audit import AuditEntry
from townsquare.core.clock import clock

from .world import build

NOON = datetime(2024, 3, 4, 4, 0, tzinfo=UTC)


@pytest.fixture
def world(database, make_user):
    clock.freeze(NOON)
    return build(database, make_user, exits=5)


def my_code(client, headers, world, kind="household") -> dict:
    response = client.get(f"/api/community/{world.com}/code?kind={kind}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def scan(client, headers, world, code, direction="exit", gate=None) -> dict:
    response = client.post(
        f"/api/community/{world.com}/gate/scan",
        headers=headers,
        json={"gate": gate or world.gate, "code": code, "direction": direction,
              **({"member": world.head} if direction == "exit" else {})},
    )
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
def traffic(client, token_for, world):
    """Exits and entries at two gates over an afternoon, from real resident codes."""
    resident, guard = token_for(world.resident), token_for(world.guard)
    for minutes, direction, gate, kind in [
        (0, "exit", world.gate, "household"),
        (10, "exit", world.gate, "person"),
        (20, "entry", world.gate2, "household"),
        (120, "entry", world.gate, "person"),
    ]:
        clock.freeze(NOON + timedelta(minutes=minutes))
        scan(client, guard, world, my_code(client, resident, world, kind)["code"], direction, gate)
    return guard


def test_a_resident_gets_a_fresh_code_that_the_keys_verify(client, token_for, world):
    issued = my_code(client, token_for(world.resident), world)
    assert issued["subject"] == world.household and issued["colour"] == "green"
    keys = client.get(f"/api/community/{world.com}/keys").json()
    claims = codes.verify(
        issued["code"],
        codes.keys_from_text(keys["keys"]),
        community=world.com,
        now=NOON.timestamp() + 60,
    )
    assert claims.subject == world.household
    person = my_code(client, token_for(world.resident), world, "person")
    assert person["subject"] == world.head and person["code"] != issued["code"]
    # a guard or manager with no person record has no code
    assert (
        client.get(f"/api/community/{world.com}/code", headers=token_for(world.guard)).status_code
        == 403
    )


def test_the_log_filters_by_household_person_gate_and_time(client, token_for, world, traffic):
    manager = token_for(world.manager)
    url = f"/api/community/{world.com}/passages"
    everything = client.get(url, headers=manager).json()
    assert [p["direction"] for p in everything] == ["entry", "entry", "exit", "exit"]  # newest 1st
    assert all(p["allowed"] for p in everything)
    assert len(client.get(url, params={"household": world.household}, headers=manager).json()) == 4
    by_person = client.get(url, params={"person": world.head}, headers=manager).json()
    # the household code's exit names who passed (the guard picked the head)
    assert len(by_person) == 3 and {p["name"] for p in by_person} == {"张小民"}
    at_gate2 = client.get(url, params={"gate": world.gate2}, headers=manager).json()
    assert [p["gate_name"] for p in at_gate2] == ["西门"]
    window = {
        "since": (NOON + timedelta(minutes=5)).isoformat(),
        "until": (NOON + timedelta(minutes=25)).isoformat(),
    }
    assert len(client.get(url, params=window, headers=manager).json()) == 2
    assert client.get(url, params={"household": "hh_nosuch"}, headers=manager).json() == []


def test_csv_export_is_complete_and_audited(client, token_for, database, world, traffic):
    response = client.get(
        f"/api/community/{world.com}/passages.csv", headers=token_for(world.manager)
    )
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text.lstrip("\ufeff"))))
    assert len(rows) == 4 and rows[-1]["direction"] == "exit"
    assert rows[-1]["room"] == "3栋-2单元-301" and rows[-1]["time"] == "2024-03-04 12:00:00"
    with database.unit_of_work() as db:
        assert db.scalar(select(AuditEntry).where(AuditEntry.action == "passages.export"))


def test_tracing_finds_everyone_at_that_gate_in_the_window(client, token_for, world, traffic):
    manager = token_for(world.manager)
    log = client.get(f"/api/community/{world.com}/passages", headers=manager).json()
    first_exit = log[-1]
    traced = client.get(
        f"/api/community/{world.com}/passages/{first_exit['id']}/trace",
        params={"minutes": 30},
        headers=manager,
    ).json()
    # the other exit at 东门 10 minutes later; not the 西门 entry, not the 东门 entry 2 h later
    assert [p["id"] for p in traced["passages"]] == [log[-2]["id"]]
    wider = client.get(
        f"/api/community/{world.com}/passages/{first_exit['id']}/trace",
        params={"minutes": 180},
        headers=manager,
    ).json()
    assert len(wider["passages"]) == 2


def test_overdue_returns_are_listed(client, token_for, world, traffic):
    url = f"/api/community/{world.com}/passages/overdue"
    manager = token_for(world.manager)
    assert client.get(url, headers=manager).json() == []  # both exits came back in
    clock.freeze(NOON + timedelta(hours=3))
    code = my_code(client, token_for(world.resident), world)["code"]
    gone = scan(client, traffic, world, code)
    clock.freeze(NOON + timedelta(hours=6, minutes=59))
    assert client.get(url, headers=manager).json() == []  # 3 h 59 min out: not yet
    clock.freeze(NOON + timedelta(hours=7, minutes=1))
    overdue = client.get(url, headers=manager).json()
    assert [p["id"] for p in overdue] == [gone["passage"]]


def test_only_managers_and_committee_of_that_community_see_the_log(
    client, token_for, make_user, database, world, traffic
):
    other = build(database, make_user, name="B")
    url = f"/api/community/{world.com}/passages"
    for user in (world.guard, world.resident, other.manager):
        assert client.get(url, headers=token_for(user)).status_code == 403
        assert client.get(url + ".csv", headers=token_for(user)).status_code == 403
    assert client.get(url).status_code == 401
    assert (
        client.get(f"/api/community/{other.com}/passages", headers=token_for(other.manager)).json()
        == []
    )
    log = client.get(url, headers=token_for(world.manager)).json()
    assert (
        client.get(
            f"/api/community/{other.com}/passages/{log[0]['id']}/trace",
            headers=token_for(other.manager),
        ).status_code
        == 404
    )
