"""Points under real concurrency on PostgreSQL: many redemptions at the same instant never take a
balance below zero or charge one key twice; racing awards never pass a rule's weekly cap; and
the balance always equals the sum of the ledger."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.traffic.support_helpers import NOW, freeze, ledger_sum
from tests.traffic.world import build_world
from townsquare.core.errors import Conflict
from townsquare.miniapps.models import MiniApp, MiniAppKind, MiniAppVersion, VersionState
from townsquare.traffic.config import PointsRule, TrafficConfig
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


def test_racing_awards_never_pass_the_weekly_cap(database):
    """Twelve planning runs award the same merchant's store-pickup mini-apps at once: the
    merchant's weekly cap (250 points: two awards of 100) holds, whoever wins."""
    freeze()
    world = build_world(database)
    brand = world.app("brand")
    config = TrafficConfig(points_rules=[PointsRule(code="store_pickup", points=100,
                                                    weekly_cap=250)])
    with database.unit_of_work() as db:
        category_id = db.get(MiniApp, brand.id).category_id
        for i in range(THREADS):
            extra = MiniApp(merchant_id=brand.merchant_id, category_id=category_id,
                            kind=MiniAppKind.EXTERNAL, client_secret_digest="0" * 64,
                            name=f"分店{i}", icon="🛒", cities=["武汉"], listed=True)
            db.add(extra)
            db.flush()
            db.add(MiniAppVersion(miniapp_id=extra.id, number=1, label="1.0", name=extra.name,
                                  state=VersionState.PUBLISHED, config={"store_pickup": True}))
    barrier = threading.Barrier(THREADS)

    def one(_: int) -> int:
        with database.sessions() as warm:
            warm.execute(select(1))
        barrier.wait()
        with database.unit_of_work() as db:
            return points.award(db, config=config, now=NOW, timezone="Asia/Shanghai")

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        created = list(pool.map(one, range(THREADS)))
    assert sum(created) == 2
    with database.unit_of_work() as db:
        assert points.balance(db, merchant_id=brand.merchant_id) == 200
        assert ledger_sum(db, brand.merchant_id) == 200


def test_racing_capped_earnings_of_different_references_stop_at_the_cap(database):
    freeze()
    world = build_world(database)
    merchant_id = world.app("brand").merchant_id
    cap = points.Cap(300, NOW - timedelta(days=1), NOW + timedelta(days=1))
    barrier = threading.Barrier(THREADS)

    def one(i: int) -> bool:
        with database.sessions() as warm:
            warm.execute(select(1))
        barrier.wait()
        with database.unit_of_work() as db:
            return points.earn(db, merchant_id=merchant_id, rule_code="store_pickup", points=100,
                               reference=f"earn:store_pickup:app{i}:once", cap=cap) is not None

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        paid = list(pool.map(one, range(THREADS)))
    assert sum(paid) == 3
    with database.unit_of_work() as db:
        assert points.balance(db, merchant_id=merchant_id) == 300 == ledger_sum(db, merchant_id)
