"""Spend under real concurrency on PostgreSQL: many threads charging clicks on one bid at the
same instant never push the day's spend above its budget, and a replayed click token is charged
once however many threads replay it."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from tests.traffic.world import build_world
from townsquare.core.clock import clock
from townsquare.traffic.market import bids
from townsquare.traffic.models import AdClick, BidSpend

pytestmark = pytest.mark.postgres_only
NOW = datetime(2026, 3, 10, 4, 0, tzinfo=UTC)
THREADS = 16
CLICKS = 48
PRICE = 70
BUDGET = 1_000  # 14 full clicks (980), one pays the last 20, the rest pay nothing


def _bid(database, world) -> int:
    with database.unit_of_work() as db:
        bid = bids.place(db, actor=None, miniapp_public_id=world.app("brand").public_id,
                         target_kind="surface", target="feed", max_cpc_fen=PRICE,
                         daily_budget_fen=BUDGET)
        return bid.id


def _charge_all(database, bid_id: int, tokens: list[str],
                visitors: list[str] | None = None) -> list[int]:
    barrier = threading.Barrier(THREADS)

    def one(i: int) -> int:
        if i < THREADS:
            barrier.wait()  # the first wave starts together, so the updates truly overlap
        with database.unit_of_work() as db:
            return bids.charge_click(db, bid_id=bid_id, token_digest=tokens[i],
                                     price_fen=PRICE, now=NOW,
                                     visitor=visitors[i] if visitors else tokens[i])

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        return list(pool.map(one, range(len(tokens))))


def _totals(database, bid_id: int) -> tuple[int, int, int, int]:
    with database.unit_of_work() as db:
        spend = db.scalar(select(BidSpend).where(BidSpend.bid_id == bid_id))
        charged = db.scalar(select(func.coalesce(func.sum(AdClick.price_fen), 0))
                            .where(AdClick.bid_id == bid_id))
        count = db.scalar(select(func.count()).select_from(AdClick)
                          .where(AdClick.bid_id == bid_id))
        return spend.spent_fen, charged, count, spend.clicks


def test_concurrent_clicks_never_exceed_the_budget(database):
    clock.freeze(NOW)
    world = build_world(database)
    bid_id = _bid(database, world)
    charges = _charge_all(database, bid_id, [f"token-{i}" for i in range(CLICKS)])
    spent, charged, count, clicks = _totals(database, bid_id)
    assert spent == charged == sum(charges) == BUDGET
    assert count == clicks == CLICKS
    assert all(0 <= c <= PRICE for c in charges)
    assert sorted(charges, reverse=True)[: BUDGET // PRICE] == [PRICE] * (BUDGET // PRICE)


def test_one_token_replayed_by_many_threads_is_charged_once(database):
    clock.freeze(NOW)
    world = build_world(database)
    bid_id = _bid(database, world)
    charges = _charge_all(database, bid_id, ["same-token"] * THREADS)
    assert sorted(charges) == [0] * (THREADS - 1) + [PRICE]
    assert _totals(database, bid_id) == (PRICE, PRICE, 1, 1)


def test_one_visitor_clicking_many_times_at_once_is_charged_once(database):
    """Invalid-click filtering holds under concurrency: one visitor's many clicks on one ad
    (different tokens, all at the same instant) make one charge; the rest are filtered."""
    clock.freeze(NOW)
    world = build_world(database)
    bid_id = _bid(database, world)
    charges = _charge_all(database, bid_id, [f"farm-{i}" for i in range(THREADS)],
                          visitors=["v" * 32] * THREADS)
    assert sorted(charges) == [0] * (THREADS - 1) + [PRICE]
    with database.unit_of_work() as db:
        spend = db.scalar(select(BidSpend).where(BidSpend.bid_id == bid_id))
        assert (spend.spent_fen, spend.clicks, spend.filtered) == (PRICE, 1, THREADS - 1)
        statuses = sorted(db.scalars(select(AdClick.status).where(AdClick.bid_id == bid_id)))
        assert statuses == ["charged"] + ["filtered"] * (THREADS - 1)
