"""The market simulator: deterministic, quality shows in the behaviour, new apps are thin, and
the database history lands on listed mini-apps only."""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from scipy.stats import spearmanr
from sqlalchemy import func, select

from tests.miniapps.shell_data import make_miniapp
from townsquare.core.clock import clock
from townsquare.events.export import SCHEMA
from townsquare.events.models import BehaviourEvent
from townsquare.simulation import market

END = date(2026, 3, 9)


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    out = tmp_path_factory.mktemp("market")
    count = market.generate_parquet(out, miniapps=400, days=14, events_per_app_day=60, seed=7,
                                    end=END)
    table = ds.dataset(out, format="parquet", partitioning="hive").to_table()
    return out, count, table


def test_generated_parquet_has_the_export_layout_and_schema(synthetic):
    out, count, table = synthetic
    assert count == table.num_rows > 100_000
    days = sorted(p.name for p in out.iterdir() if p.name.startswith("date="))
    assert days[0] == "date=2026-02-24" and days[-1] == "date=2026-03-09" and len(days) == 14
    first = next((out / days[0]).glob("part-*.parquet"))
    assert pq.read_schema(first) == SCHEMA
    when = table.column("occurred_at")
    assert pc.all(pc.equal(pc.strftime(when, format="%Y-%m-%d"), table.column("date"))).as_py()
    assert len(set(table.column("event_id").to_pylist())) == count
    placed = table.filter(pc.equal(table.column("type"), "order_placed"))
    fulfilled = table.filter(pc.equal(table.column("type"), "order_fulfilled"))
    orders = set(placed.column("order_id").to_pylist())
    assert set(fulfilled.column("order_id").to_pylist()) <= orders
    ratings = table.filter(pc.equal(table.column("type"), "rating")).column("rating")
    assert pc.min(ratings).as_py() >= 1 and pc.max(ratings).as_py() <= 5


def test_same_seed_same_events(tmp_path, synthetic):
    _, _, table = synthetic
    again = market.generate_parquet(tmp_path, miniapps=400, days=14, events_per_app_day=60,
                                    seed=7, end=END)
    other = ds.dataset(tmp_path, format="parquet", partitioning="hive").to_table()
    assert again == table.num_rows
    assert other.sort_by("event_id").equals(table.sort_by("event_id"))
    hidden = pq.read_table(tmp_path / "_market.parquet")
    truth = market.synthetic_market(400, days=14, events_per_app_day=60, seed=7)
    assert np.allclose(hidden.column("quality").to_numpy(), truth.quality)
    different = market.synthetic_market(400, days=14, events_per_app_day=60, seed=8)
    assert not np.allclose(different.quality, truth.quality)


def _per_app(table, kind: str, column: str | None = None, aggregate: str = "count"):
    rows = table.filter(pc.equal(table.column("type"), kind))
    column = column or "event_id"
    grouped = rows.group_by("miniapp_id").aggregate([(column, aggregate)])
    return dict(zip(grouped.column("miniapp_id").to_pylist(),
                    grouped.column(f"{column}_{aggregate}").to_pylist(), strict=True))


def test_higher_quality_shows_in_observed_rates(synthetic):
    out, _, table = synthetic
    hidden = pq.read_table(out / "_market.parquet").to_pydict()
    quality = dict(zip(hidden["miniapp_id"], hidden["quality"], strict=True))
    orders = _per_app(table, "order_placed")
    fulfilled = _per_app(table, "order_fulfilled")
    complaints = _per_app(table, "complaint")
    rating = _per_app(table, "rating", "rating", "mean")
    apps = [a for a, n in orders.items() if n >= 30 and a in rating]
    assert len(apps) > 200
    q = [quality[a] for a in apps]
    fulfil = [fulfilled.get(a, 0) / orders[a] for a in apps]
    complain = [complaints.get(a, 0) / orders[a] for a in apps]
    assert spearmanr(q, fulfil).statistic > 0.5
    assert spearmanr(q, [rating[a] for a in apps]).statistic > 0.8
    assert spearmanr(q, complain).statistic < -0.5


def test_new_mini_apps_have_few_events(synthetic):
    out, _, table = synthetic
    hidden = pq.read_table(out / "_market.parquet").to_pydict()
    events = _per_app(table, "exposure")
    new = [a for a, s in zip(hidden["miniapp_id"], hidden["start_day"], strict=True) if s > 0]
    old = [a for a, s in zip(hidden["miniapp_id"], hidden["start_day"], strict=True) if s == 0]
    assert new and old
    assert np.median([events.get(a, 0) for a in new]) < 0.6 * np.median([events[a] for a in old])


def test_history_in_the_database_is_deterministic(database, settings):
    clock.freeze(datetime(2026, 3, 10, 8, tzinfo=UTC))
    apps = [make_miniapp(database).id for _ in range(4)]
    make_miniapp(database, listed=False)
    with database.unit_of_work() as db:
        written = market.simulate_history(db, settings=settings, days=7, seed=11,
                                          events_per_app_day=20)
        quality = market.hidden_quality(db, seed=11)
        stored = db.scalar(select(func.count(BehaviourEvent.id)))
        per_app = dict(db.execute(select(BehaviourEvent.miniapp_id, func.count())
                                  .group_by(BehaviourEvent.miniapp_id)).all())
        latest = db.scalar(select(func.max(BehaviourEvent.occurred_at)))
        rows = sorted(db.execute(select(BehaviourEvent.type, BehaviourEvent.occurred_at,
                                        BehaviourEvent.amount_fen)).all())
    assert written == stored > 100
    assert set(per_app) == set(quality) and len(quality) == len(apps)  # listed ones only
    assert all(0 <= q <= 1 for q in quality.values())
    assert latest < datetime(2026, 3, 10, tzinfo=UTC)  # history ends yesterday
    with database.unit_of_work() as db:
        db.execute(BehaviourEvent.__table__.delete())
        market.simulate_history(db, settings=settings, days=7, seed=11, events_per_app_day=20)
        assert market.hidden_quality(db, seed=11) == quality
        again = sorted(db.execute(select(BehaviourEvent.type, BehaviourEvent.occurred_at,
                                         BehaviourEvent.amount_fen)).all())
    assert again == rows
