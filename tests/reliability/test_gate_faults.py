"""Issue 13, items 3–5, and issue 12 item 14: guard devices racing each other never deadlock,
offline passages are paired by device time whatever order they arrive in, a retried scan gets
the first answer even when it races the first attempt, and a client_id reused for other content
is refused."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text

from townsquare.community.gate import codes
from townsquare.community.gate.decision import decide
from townsquare.community.gate.models import Direction, Passage
from townsquare.community.gate.passages import OfflineScan, sync
from townsquare.community.models import Community, Household, Room
from townsquare.core.clock import clock

from ..community.gate.world import build

NOON = datetime(2024, 3, 4, 4, 0, tzinfo=UTC)


@pytest.fixture
def world(database, make_user):
    clock.freeze(NOON)
    return build(database, make_user, exits=3, max_hours=4)


def household_code(settings, world, subject: str, at: datetime) -> str:
    return codes.issue(
        settings.effective_secret_key,
        community=world.com,
        subject=subject,
        kind=codes.CodeKind.HOUSEHOLD,
        now=at.timestamp(),
    )


def wait_for_a_lock_waiter(database, deadline_s: float = 20) -> None:
    """Until another connection of this database waits on a row or advisory lock."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        with database.engine.connect() as conn:
            waiting = conn.scalar(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'"
            ))
        if waiting:
            return
        time.sleep(0.02)
    raise AssertionError("nobody waited for the lock")


# -- item 5: a resend racing the first attempt ---------------------------------------------


@pytest.mark.postgres_only
def test_a_resend_racing_the_first_attempt_gets_the_recorded_decision(
    database, settings, world
):
    code = household_code(settings, world, world.household, NOON)
    args = dict(actor=world.guard, settings=settings, community_id=world.com, gate_id=world.gate,
                code=code, direction=Direction.EXIT, client_id="phone-1-0001")
    first_session = database.sessions()
    first = decide(first_session, **args)  # holds the household's lock, not committed yet
    outcome: dict[str, object] = {}

    def resend() -> None:
        try:
            with database.unit_of_work() as db:
                outcome["decision"] = decide(db, **args)
        except Exception as exc:  # noqa: BLE001 — the test reports it
            outcome["error"] = exc

    thread = threading.Thread(target=resend)
    thread.start()
    wait_for_a_lock_waiter(database)
    first_session.commit()
    first_session.close()
    thread.join(timeout=30)
    assert "error" not in outcome, outcome.get("error")
    again = outcome["decision"]
    assert again.passage_id == first.passage_id and again.allowed == first.allowed
    with database.unit_of_work() as db:
        assert db.scalar(select(func.count()).select_from(Passage)) == 1


# -- issue 12 item 14: the key is bound to the content --------------------------------------


def test_a_reused_client_id_with_other_content_is_refused(client, token_for, database, settings,
                                                           world):
    headers = token_for(world.guard)
    url = f"/api/community/{world.com}/gate/scan"
    household = household_code(settings, world, world.household, NOON)
    person = codes.issue(settings.effective_secret_key, community=world.com, subject=world.child,
                         kind=codes.CodeKind.PERSON, now=NOON.timestamp())
    body = {"gate": world.gate, "code": household, "direction": "exit",
            "client_id": "gate-phone-0001"}
    first = client.post(url, json=body, headers=headers)
    assert first.status_code == 200, first.text
    retried = client.post(url, json=body, headers=headers)
    assert retried.status_code == 200
    for key in ("passage", "allowed", "reasons", "direction", "at"):
        assert retried.json()[key] == first.json()[key]
    for changed in ({"code": person}, {"direction": "entry"}, {"gate": world.gate2}):
        reused = client.post(url, json={**body, **changed}, headers=headers)
        assert reused.status_code == 409, reused.text
        assert reused.json()["error"]["code"] == "client_id_reused"
    with database.unit_of_work() as db:
        assert db.scalar(select(func.count()).select_from(Passage)) == 1


def test_an_offline_client_id_reused_with_other_content_is_refused(client, token_for, database,
                                                                   settings, world):
    headers = token_for(world.guard)
    url = f"/api/community/{world.com}/passages/sync"
    at = NOON - timedelta(hours=1)
    scan = {"client_id": "device-1-0001", "gate": world.gate, "direction": "exit", "allowed": True,
            "code": household_code(settings, world, world.household, at), "at": at.isoformat()}
    assert client.post(url, json={"scans": [scan]}, headers=headers).status_code == 200
    again = client.post(url, json={"scans": [scan]}, headers=headers)
    assert again.status_code == 200 and again.json()["results"][0]["status"] == "duplicate"
    moved = {**scan, "at": (at + timedelta(minutes=5)).isoformat()}
    refused = client.post(url, json={"scans": [moved]}, headers=headers)
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["code"] == "client_id_reused"
    with database.unit_of_work() as db:
        assert db.scalar(select(func.count()).select_from(Passage)) == 1


# -- item 4: pairing by device time -----------------------------------------------------------


def offline_scan(settings, world, n: int, at: datetime, direction: Direction) -> OfflineScan:
    return OfflineScan(client_id=f"device-9-{n:04d}", gate=world.gate, direction=direction, at=at,
                       allowed=True, code=household_code(settings, world, world.household, at))


@pytest.mark.parametrize("late", [False, True])
def test_an_entry_synced_before_its_exit_closes_it(database, settings, world, late):
    out_at = NOON - timedelta(hours=6)
    back_at = out_at + timedelta(hours=5 if late else 1)  # the community allows 4 hours out
    for scan in (offline_scan(settings, world, 2, back_at, Direction.ENTRY),
                 offline_scan(settings, world, 1, out_at, Direction.EXIT)):
        with database.unit_of_work() as db:  # two syncs: the entry arrives first
            sync(db, actor=world.guard, settings=settings, community_id=world.com, scans=[scan])
    with database.unit_of_work() as db:
        exit_ = db.scalar(select(Passage).where(Passage.direction == Direction.EXIT))
        entry = db.scalar(select(Passage).where(Passage.direction == Direction.ENTRY))
        assert exit_.returned_at == back_at
        assert exit_.overdue is late and entry.overdue is late
        assert ("overdue" in entry.reasons) is late
        from townsquare.community.gate.passages import overdue_in

        community = db.scalar(select(Community))
        assert overdue_in(db, community=community, now=NOON) == []


def test_pairing_is_the_same_whatever_the_arrival_order(database, settings, world):
    t = NOON - timedelta(hours=12)
    scans = [offline_scan(settings, world, 1, t, Direction.EXIT),
             offline_scan(settings, world, 2, t + timedelta(hours=1), Direction.EXIT),
             offline_scan(settings, world, 3, t + timedelta(hours=2), Direction.ENTRY),
             offline_scan(settings, world, 4, t + timedelta(hours=6), Direction.ENTRY)]
    for scan in reversed(scans):
        with database.unit_of_work() as db:
            sync(db, actor=world.guard, settings=settings, community_id=world.com, scans=[scan])
    with database.unit_of_work() as db:
        exits = list(db.scalars(select(Passage).where(Passage.direction == Direction.EXIT)
                                .order_by(Passage.at)))
        # the oldest open exit is closed first: 1 by the entry at +2 h, 2 by the one at +6 h
        assert [e.returned_at for e in exits] == [t + timedelta(hours=2), t + timedelta(hours=6)]
        assert [e.overdue for e in exits] == [False, True]


# -- item 3: two devices, opposite orders ----------------------------------------------------


@pytest.mark.postgres_only
def test_two_devices_syncing_households_in_opposite_orders_never_deadlock(
    database, settings, world
):
    with database.unit_of_work() as db:
        first = db.scalar(select(Household).where(Household.public_id == world.household))
        room = Room(community_id=first.community_id, building="3栋", unit="2单元", number="302")
        db.add(room)
        db.flush()
        second = Household(community_id=first.community_id, room_id=room.id)
        db.add(second)
        db.flush()
        low, high = sorted([(first.id, first.public_id), (second.id, second.public_id)])
    t = NOON - timedelta(hours=2)
    # this device met the higher household first, then the lower one
    batch = [
        OfflineScan(client_id="device-a-0001", gate=world.gate, direction=Direction.EXIT, at=t,
                    allowed=True, code=household_code(settings, world, high[1], t)),
        OfflineScan(client_id="device-a-0002", gate=world.gate, direction=Direction.EXIT,
                    at=t + timedelta(minutes=1), allowed=True,
                    code=household_code(settings, world, low[1], t + timedelta(minutes=1))),
    ]
    other = database.sessions()  # the other device, already holding the lower household
    other.execute(select(Household.id).where(Household.id == low[0]).with_for_update())
    outcome: dict[str, object] = {}

    def device_a() -> None:
        try:
            with database.unit_of_work() as db:
                outcome["results"] = sync(db, actor=world.guard, settings=settings,
                                          community_id=world.com, scans=batch)
        except Exception as exc:  # noqa: BLE001 — the test reports it
            outcome["error"] = exc

    thread = threading.Thread(target=device_a)
    thread.start()
    wait_for_a_lock_waiter(database)
    try:  # the other device now wants the higher household too
        other.execute(select(Household.id).where(Household.id == high[0]).with_for_update())
        other.commit()
    finally:
        other.close()
        thread.join(timeout=30)
    assert "error" not in outcome, outcome.get("error")
    assert [r.status for r in outcome["results"]] == ["recorded", "recorded"]


def test_a_batch_chosen_as_a_deadlock_victim_runs_again(database, settings, world, monkeypatch):
    from sqlalchemy.exc import OperationalError

    from townsquare.community.gate import passages

    class DeadlockDetected(Exception):
        sqlstate = "40P01"

    real, calls = passages._lock_households, []

    def once_a_victim(db, *args):
        calls.append(1)
        real(db, *args)
        if len(calls) == 1:  # what PostgreSQL raises in the victim of a deadlock
            raise OperationalError("SELECT … FOR UPDATE", {}, DeadlockDetected())

    monkeypatch.setattr(passages, "_lock_households", once_a_victim)
    t = NOON - timedelta(hours=1)
    with database.unit_of_work() as db:
        results = sync(db, actor=world.guard, settings=settings, community_id=world.com,
                       scans=[offline_scan(settings, world, 1, t, Direction.EXIT)])
    assert [r.status for r in results] == ["recorded"] and len(calls) == 2
    with database.unit_of_work() as db:
        assert db.scalar(select(func.count()).select_from(Passage)) == 1
