"""The columnar model, tiers and suggestions give exactly what the row-by-row ones gave.

`reference.py` is a frozen copy of the implementation before it was vectorised; every result,
tier decision and suggestion must come out identical (not approximately: the same floats and
the same words), whatever the input order and whether rows come as dicts or as Arrow.
"""

from __future__ import annotations

import json
import os
import random

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from townsquare.scoring.model import score, suggestions, tiers
from townsquare.scoring.model.config import LEGACY_RULES, CapRule, ScoringConfig
from townsquare.scoring.model.results import py_round
from townsquare.scoring.pipeline import CycleOutput, write_parquet

from . import reference
from .rows import make_row

SLOW = settings(
    max_examples=int(os.environ.get("SCORING_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _legacy(**settings):
    """The reference is frozen at the rules before 2026.4 (hard data gate, totals, no pooling,
    fixed rate priors, the pessimistic rate bound, percentile tiers everywhere): the columnar
    code must still give exactly that with those rules switched back on. The new rules are
    tested against their own expectations in test_sparse.py."""
    return ScoringConfig(**{**LEGACY_RULES, **settings})


DEFAULT_CONFIG = _legacy()
CONFIGS = {
    "default": DEFAULT_CONFIG,
    "city groups": _legacy(min_city_peers=2, min_days_active=3),
    "caps bite": _legacy(caps=(CapRule(z=0.0, factor=1.0, floor=0.0, cap=40.0),
                               CapRule(metric="refund_rate", z=0.0, factor=1.5, cap=70.0)),
                         min_orders=1, min_visits=1),
    "no weight on volume": _legacy(
        pillar_weights={"volume": 0.0, "scale": 0.3, "quality": 0.7},
        metric_weights={**DEFAULT_CONFIG.metric_weights, "refund_rate": 0.0, "visits": 0.0},
        tier_min_orders={"S": 5, "A": 1, "B": 1}),
}
NEW_FIELDS = ("score_low", "score_high")  # the interval, which the reference did not have


@st.composite
def populations(draw, max_size=60):
    n = draw(st.integers(1, max_size))
    ids = draw(st.lists(st.integers(1, 10_000), min_size=n, max_size=n, unique=True))
    rows = []
    for app in ids:
        orders = draw(st.integers(0, 400))
        complaints = draw(st.integers(0, orders))
        buyers = draw(st.integers(0, orders))
        ratings = draw(st.integers(0, 60))
        rows.append(make_row(
            app, category=draw(st.sampled_from(["food", "laundry", "fix"])),
            city=draw(st.sampled_from(["hz", "sh", "bj", ""])), orders=orders,
            visits=draw(st.integers(0, 3000)), fulfilled=draw(st.integers(0, orders)),
            cancelled=draw(st.integers(0, orders)), refunds=draw(st.integers(0, orders)),
            complaints=complaints, resolved=draw(st.integers(0, complaints)), ratings=ratings,
            rating_avg=draw(st.sampled_from([1.0, 3.5, 4.0, 4.5, 5.0])), buyers=buyers,
            repeat=draw(st.integers(0, buyers)), responses=draw(st.integers(0, 12)),
            p90=draw(st.sampled_from([30.0, 300.0, 300.0, 3600.0])),
            communities=draw(st.integers(0, 9)), dau=draw(st.sampled_from([0.0, 1.5, 20.0])),
            days_active=draw(st.integers(0, 28)),
        ))
    return rows


def _old(rows, config):
    results = reference.score_all(rows, config)
    return (
        [{k: v for k, v in r.to_json().items() if k not in NEW_FIELDS} for r in results],
        {k: v.to_json() for k, v in reference.assign_tiers(results, config).items()},
        {k: [s.to_json() for s in v] for k, v in reference.suggest_all(results, config).items()},
    )


def _new(data, config):
    scores = score.score_table(data, config)
    output = CycleOutput(scores, tiers.tiers_of(scores), suggestions.advise(scores), {})
    return (
        [{k: v for k, v in r.to_json().items() if k not in NEW_FIELDS} for r in output.results],
        {k: v.to_json() for k, v in output.tiers.items()},
        {k: [s.to_json() for s in v] for k, v in output.suggestions.items()},
    )


def _same(a, b, what=""):
    # json with sorted keys: equal floats print equally, and NaN would not compare equal
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True), what


@SLOW
@given(populations(), st.sampled_from(sorted(CONFIGS)), st.randoms(use_true_random=False))
def test_columnar_scoring_is_identical_to_the_row_by_row_one(rows, name, rnd):
    config = CONFIGS[name]
    expected = _old(rows, config)
    shuffled = list(rows)
    rnd.shuffle(shuffled)
    for got in (_new(shuffled, config), _new(pa.Table.from_pylist(shuffled), config)):
        for part, want, have in zip(("results", "tiers", "suggestions"), expected, got,
                                    strict=True):
            _same(want, have, part)


@SLOW
@given(populations(), st.sampled_from(sorted(CONFIGS)))
def test_list_entry_points_match_the_reference(rows, name):
    config = CONFIGS[name]
    _, old_tiers, old_advice = _old(rows, config)
    results = score.score_all(rows, config)
    _same(old_tiers, {k: v.to_json() for k, v in tiers.assign_tiers(results, config).items()})
    _same(old_advice, {k: [s.to_json() for s in v]
                       for k, v in suggestions.suggest_all(results, config).items()})


def test_a_thousand_simulated_apps_are_identical():
    rnd = random.Random(11)
    rows = [
        make_row(i, category=rnd.choice(["food", "laundry", "fix", "pets"]),
                 city=rnd.choice(["hz", "sh", "bj", "sz", ""]), orders=rnd.randint(0, 900),
                 cancelled=rnd.randint(0, 40), complaints=rnd.randint(0, 30),
                 refunds=rnd.randint(0, 20), ratings=rnd.randint(0, 300),
                 rating_avg=round(rnd.uniform(2.5, 5.0), 2), responses=rnd.randint(0, 40),
                 p90=float(rnd.randint(10, 7200)), communities=rnd.randint(0, 20),
                 days_active=rnd.randint(1, 28))
        for i in range(1000)
    ]
    expected = _old(rows, DEFAULT_CONFIG)
    got = _new(pa.Table.from_pylist(rows), DEFAULT_CONFIG)
    for want, have in zip(expected, got, strict=True):
        _same(want, have)
    assert sum(len(v) for v in expected[2].values()) > 500  # suggestions were compared


@given(st.floats(-1e6, 1e6, allow_nan=False), st.sampled_from([0, 1, 2, 3, 6]))
def test_py_round_is_pythons_round(value, digits):
    tie = round(value * 100) / 100 + 0.005  # a decimal tie, the case NumPy gets wrong
    got = py_round(np.array([value, tie, -tie]), digits)
    assert got.tolist() == [round(value, digits), round(tie, digits), round(-tie, digits)]


def test_written_parquet_explains_every_score(tmp_path):
    rows = [make_row(i, orders=40 + 9 * i, complaints=i % 4, city="hz") for i in range(12)]
    rows.append(make_row(99, orders=2, visits=3))  # not enough data
    scores = score.score_table(pa.Table.from_pylist(rows), DEFAULT_CONFIG)
    output = CycleOutput(scores, tiers.tiers_of(scores), suggestions.advise(scores), {})
    written = {path.name: path for path in write_parquet(output, tmp_path)}
    table = pq.read_table(written["scores.parquet"])
    meta = json.loads(table.schema.metadata[b"townsquare.model_config"])
    assert meta["version"] == DEFAULT_CONFIG.version
    explained = pq.read_table(written["explanations.parquet"]).to_pylist()
    by_id = {r["miniapp_id"]: r | e for r, e in zip(table.to_pylist(), explained, strict=True)}
    assert all(r["miniapp_id"] == e["miniapp_id"] for r, e in zip(
        table.to_pylist(), explained, strict=True))
    for result in output.results:
        row = by_id[result.miniapp_id]
        decision = output.tiers[result.miniapp_id]
        assert row["state"] == result.state and row["model_version"] == result.model_version
        assert row["overall"] == result.overall and row["tier"] == decision.tier
        assert row["orders"] == result.metrics["orders"]  # the inputs as measured
        if result.state == "scored":
            assert row["quality"] == result.pillars["quality"]
            assert row["rank"] == decision.rank and row["percentile"] == decision.percentile
            assert row["peer_key"] == result.peer_key and row["peer_count"] == result.peer_count
            assert row["adjusted"] == result.adjusted
            assert row["metric_scores"] == result.metric_scores
            assert row["contributions"] == result.contributions
            assert row["next_tier"] == decision.next_tier
            codes = {u["code"] for u in decision.unmet}
            assert {c for c in tiers.NEEDS if row[f"next_tier_needs_{c}"]} == codes
        else:
            assert row["overall"] is None and row["tier"] is None and row["rank"] is None
    bench = pq.read_table(written["benchmarks.parquet"]).to_pylist()
    first = next(r for r in output.results if r.state == "scored")
    mine = {b["metric"]: b for b in bench if b["peer_key"] == first.peer_key}
    assert mine["orders"]["median"] == first.benchmarks["orders"]["median"]
    advice = pq.read_table(written["suggestions.parquet"]).to_pylist()
    assert len(advice) == sum(len(v) for v in output.suggestions.values())
    for app, listed in output.suggestions.items():
        mine = [a for a in advice if a["miniapp_id"] == app]
        assert [(a["metric"], a["points"], a["priority"]) for a in mine] == [
            (s.metric, s.points, k) for k, s in enumerate(listed, start=1)]


@pytest.mark.parametrize("size", [0, 1])
def test_tiny_populations(size):
    rows = [make_row(i) for i in range(size)]
    assert _new(rows, DEFAULT_CONFIG) == _new(pa.Table.from_pylist(
        rows, schema=pa.Table.from_pylist([make_row(0)]).schema), DEFAULT_CONFIG)
