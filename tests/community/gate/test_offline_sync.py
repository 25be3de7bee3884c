"""Offline sync: a guard device's passages arrive late, maybe twice, maybe in overlapping
batches; each is recorded once, judged as of its own time, and over-quota exits are flagged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from townsquare.community.gate import codes
from townsquare.community.gate.models import Passage
from townsquare.core.clock import clock

from .world import build

NOON = datetime(2024, 3, 4, 4, 0, tzinfo=UTC)


@pytest.fixture
def world(database, make_user):
    clock.freeze(NOON)
    return build(database, make_user)


def offline(settings, world, n: int, at: datetime, direction="exit", allowed=True) -> dict:
    code = codes.issue(
        settings.effective_secret_key,
        community=world.com,
        subject=world.household,
        kind=codes.CodeKind.HOUSEHOLD,
        now=at.timestamp(),
    )
    return {
        "client_id": f"device-7-{n:04d}",
        "gate": world.gate,
        "code": code,
        "direction": direction,
        "at": at.isoformat(),
        "allowed": allowed,
        "member": world.head,
    }


def sync(client, headers, world, scans):
    return client.post(
        f"/api/community/{world.com}/passages/sync", json={"scans": scans}, headers=headers
    )


def count(database, **where) -> int:
    with database.unit_of_work() as db:
        stmt = select(func.count()).select_from(Passage)
        for key, value in where.items():
            stmt = stmt.where(getattr(Passage, key) == value)
        return db.scalar(stmt)


def test_nothing_lost_nothing_counted_twice(client, token_for, database, settings, world):
    headers = token_for(world.guard)
    t0 = NOON - timedelta(hours=3)
    batch = [
        offline(settings, world, 1, t0),
        offline(settings, world, 2, t0 + timedelta(hours=1), "entry"),
        offline(settings, world, 3, t0 + timedelta(hours=2)),  # second exit of the day
    ]
    # the codes were scanned hours ago: long expired now, genuine at the time they were shown
    first = sync(client, headers, world, batch)
    assert first.status_code == 200, first.text
    results = first.json()["results"]
    assert [r["status"] for r in results] == ["recorded"] * 3
    assert [r["needs_review"] for r in results] == [False, False, True]
    assert count(database) == 3 and count(database, counted=True) == 2
    with database.unit_of_work() as db:
        flagged = db.scalar(select(Passage).where(Passage.needs_review.is_(True)))
        assert flagged.allowed and flagged.offline and "offline_over_quota" in flagged.reasons

    again = sync(client, headers, world, batch)  # the device never saw the answer: resend
    assert [r["status"] for r in again.json()["results"]] == ["duplicate"] * 3
    assert [r["passage"] for r in again.json()["results"]] == [r["passage"] for r in results]
    overlap = batch[1:] + [
        offline(settings, world, 4, t0 + timedelta(hours=2, minutes=30), "entry")
    ]
    statuses = [r["status"] for r in sync(client, headers, world, overlap).json()["results"]]
    assert statuses == ["duplicate", "duplicate", "recorded"]
    assert count(database) == 4 and count(database, counted=True) == 2

    # an online exit the same day now sees the quota the offline exits used up
    live = client.post(
        f"/api/community/{world.com}/gate/scan",
        headers=headers,
        json={
            "gate": world.gate,
            "direction": "exit",
            "code": codes.issue(
                settings.effective_secret_key,
                community=world.com,
                subject=world.household,
                kind=codes.CodeKind.HOUSEHOLD,
                now=NOON.timestamp(),
            ),
            "member": world.head,
        },
    )
    assert live.json()["allowed"] is False
    assert [r["code"] for r in live.json()["reasons"]] == ["quota"]


def test_device_denials_and_forgeries_are_recorded_not_counted(
    client, token_for, database, settings, world
):
    headers = token_for(world.guard)
    denied = offline(settings, world, 1, NOON - timedelta(minutes=5), allowed=False)
    forged = offline(settings, world, 2, NOON - timedelta(minutes=4), allowed=True)
    forged["code"] = forged["code"][:-3] + "AAA"
    response = sync(client, headers, world, [denied, forged])
    results = response.json()["results"]
    assert [r["allowed"] for r in results] == [False, True]
    assert results[0]["needs_review"] is True  # the server would have let them out
    assert results[1]["needs_review"] is True  # a forged code got through: review it
    assert count(database, counted=True) == 0  # a forged code names nobody to count


def test_bad_batches_record_nothing(client, token_for, make_user, database, settings, world):
    headers = token_for(world.guard)
    good = offline(settings, world, 1, NOON - timedelta(minutes=5))
    too_old = offline(settings, world, 2, NOON - timedelta(days=8))
    assert sync(client, headers, world, [good, too_old]).status_code == 422
    assert sync(client, headers, world, [good, {**good, "client_id": "x"}]).status_code == 422
    other = build(database, make_user, name="B")
    assert sync(client, token_for(other.guard), world, [good]).status_code == 403
    assert sync(client, token_for(world.manager), world, [good]).status_code == 403
    assert count(database) == 0
    assert sync(client, headers, world, [good]).status_code == 200
    assert count(database) == 1
