"""Redemptions under real concurrency on PostgreSQL: many at the same instant never take a balance
below zero or charge one key twice, and the balance always equals the sum of the ledger."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from tests.traffic.support_helpers import freeze, ledger_sum
from tests.traffic.world import build_world
from townsquare.core.errors import Conflict
from townsquare.traffic.models import PointsEntry, PointsEntryKind, Promise, Redemption
from townsquare.traffic.support import points

pytestmark = pytest.mark.postgres_only
THREADS = 12


def _race(database, world, keys: list[str]) -> list[str | None]:
    """Redeem feed_small (100 points) once per key, all threads released together."""
    brand = world.app("brand")
    barrier = threading.Barrier(len(keys))

    def one(key: str) -> str | None:
        with database.sessions() as warm:  # connect before the barrier so the calls overlap
            warm.execute(select(1))
        barrier.wait()
        try:
            with database.unit_of_work() as db:
                return points.redeem(db, actor=world.owner,
                                     merchant_public_id=brand.merchant_public_id,
                                     miniapp_public_id=brand.public_id,
                                     package_code="feed_small", idempotency_key=key).public_id
        except Conflict as exc:
            assert exc.code == "insufficient_points"
            return None

    with ThreadPoolExecutor(max_workers=len(keys)) as pool:
        return list(pool.map(one, keys))


@pytest.fixture
def world(database):
    freeze()
    world = build_world(database)
    with database.unit_of_work() as db:
        points.earn(db, merchant_id=world.app("brand").merchant_id, rule_code="test",
                    points=350, reference="earn:test:funding")
    return world


def test_different_keys_never_overdraw(world, database):
    results = _race(database, world, [f"key-{i}" for i in range(THREADS)])
    merchant_id = world.app("brand").merchant_id
    assert sum(r is not None for r in results) == 3  # 350 covers three packages of 100
    with database.unit_of_work() as db:
        balance = points.balance(db, merchant_id=merchant_id)
        assert balance == 50 == ledger_sum(db, merchant_id)
        assert db.scalar(select(func.count()).select_from(Redemption)) == 3
        assert db.scalar(select(func.count()).select_from(Promise)) == 3
        after = [e.balance_after for e in db.scalars(
            select(PointsEntry).where(PointsEntry.kind == PointsEntryKind.REDEEM)
            .order_by(PointsEntry.id))]
        assert sorted(after, reverse=True) == [250, 150, 50]


def test_one_key_from_many_threads_charges_once(world, database):
    results = _race(database, world, ["same-key"] * THREADS)
    assert len(set(results)) == 1 and results[0] is not None
    merchant_id = world.app("brand").merchant_id
    with database.unit_of_work() as db:
        assert points.balance(db, merchant_id=merchant_id) == 250 == ledger_sum(db, merchant_id)
        assert db.scalar(select(func.count()).select_from(Redemption)) == 1
        assert db.scalar(select(func.count()).select_from(Promise)) == 1
