"""The issue-19 evaluation harness: planted agents, misreporting, and the quick benchmark run
(structure and the ordering of its baselines; no timing)."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from townsquare.simulation import traffic_scenarios as cases
from townsquare.simulation.traffic_loop import Book, LoopConfig, make_market, metric_rows, misreport

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
CFG = LoopConfig(merchants=200, categories=4, cycles=6, impressions_per_day=30_000,
                 requests_per_day=30, seed=1001)


def test_plant_puts_the_agents_where_the_cases_say() -> None:
    market = make_market(CFG)
    planted = cases.plant(CFG, market)
    bad, cheats, fall = (planted.roles[k] for k in ("bad_bidder", "cheater", "collapse"))
    assert len(bad) == CFG.categories and len(cheats) == 2 * CFG.categories and len(fall) == 2
    median_bid = np.median(market.bid_fen[market.arrival < 0])
    assert (planted.bid_fen[bad] == round(25 * median_bid)).all()
    assert (planted.quality[bad] < market.good_cut).all()
    assert planted.cheats is not None and planted.cheats[cheats].all()
    assert planted.cheats.sum() == len(cheats)
    before, after = planted.quality_at(0), planted.quality_at(planted.collapse_day)
    assert (before[fall] > 0.6).all() and (after[fall] == cases.COLLAPSED_QUALITY).all()
    others = np.setdiff1d(np.arange(len(market)), fall)
    assert (after[others] == before[others]).all()


def test_a_cheater_reports_what_the_platform_did_not_observe() -> None:
    row = {"orders": 40, "rating_sum": 60, "rating_count": 20, "fulfilled": 30, "cancelled": 10,
           "refunds": 3, "complaints": 4, "complaints_resolved": 1, "response_count": 5,
           "response_p90_seconds": 3000.0}
    out = misreport(row)
    assert out["rating_avg"] == pytest.approx((60 + 5 * 20) / 40)
    assert (out["cancelled"], out["refunds"], out["complaints"]) == (0, 0, 0)
    assert out["response_p90_seconds"] < 3000 and out["fulfillment_rate"] == 1.0
    assert out["observed_complaints"] == 4 and out["observed_cancelled"] == 10
    only = misreport(row, ("refunds",))
    assert only["refunds"] == 0 and only["complaints"] == 4 and only["rating_sum"] == 60


def test_metric_rows_misreport_for_cheaters_only() -> None:
    planted = cases.plant(CFG, make_market(CFG))
    book = Book.empty(CFG, len(planted))
    for name, value in (("orders", 3.0), ("fulfilled", 2.0), ("cancelled", 1.0),
                        ("complaints", 1.0), ("active", 1.0)):
        book.data[name][0:CFG.window_days] = value
    rows = {r["miniapp_id"]: r for r in metric_rows(planted, book, end_day=0,
                                                    window=CFG.window_days,
                                                    rng=np.random.default_rng(1))}
    cheat = int(planted.roles["cheater"][0])
    honest = int(planted.roles["bad_bidder"][0])
    assert rows[cheat]["complaints"] == 0 and rows[cheat]["observed_complaints"] > 0
    assert rows[honest]["complaints"] > 0 and "observed_complaints" not in rows[honest]


@pytest.fixture(scope="module")
def quick():
    sys.path.insert(0, str(BENCHMARKS))
    spec = importlib.util.spec_from_file_location("traffic_eval", BENCHMARKS / "traffic_eval.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module, module.measure(quick=True, sizes=[120])


def test_quick_run_has_every_policy_and_case(quick) -> None:
    module, runs = quick
    assert [r["seed"] for r in runs] == list(module.SEEDS) and len(runs) >= 3
    for r in runs:
        assert set(r["orders"]) == set(module.NAMES)
        assert r["bidders"] and r["collapse"] and len(r["cheaters"]) == 2
        assert all(c.ratio >= 0 and 0 <= c.barred <= 1 for c in r["bidders"])
        assert {o.target for o in r["offpolicy"]} == {"popularity", "bid-only", "organic score",
                                                      "oracle"}
    rows = module.scenarios(runs)
    assert len(rows) == 6 and all(met.startswith(("met", "not met", "n/a"))
                                  for *_, met in rows)
    text = module.render(runs, "cmd", 1.0)
    for label in module.LABELS.values():
        assert label in text


def test_quick_run_baselines_are_ordered(quick) -> None:
    _, runs = quick

    def avg(name: str, key: str = "orders") -> float:
        return float(np.mean([r[key][name] for r in runs]))

    # The oracle sees the hidden quality: it converts best and its exposure follows quality.
    for name in ("townsquare", "popularity", "bid-only", "random-within-relevance"):
        assert avg("oracle") > avg(name)
    assert avg("random-within-relevance") > avg("bid-only")  # bids lean against quality here
    assert avg("oracle", "spearman") > 0.8 > avg("random-within-relevance", "spearman") + 0.5
    # The oracle's list depends on quality and relevance only, so its off-policy truth is the
    # expectation of its own on-policy run.
    for r in runs:
        truth = next(o.truth for o in r["offpolicy"] if o.target == "oracle")
        assert truth == pytest.approx(r["orders"]["oracle"], rel=0.1)
        for o in r["offpolicy"]:
            assert 0 <= o.support <= 1 and math.isfinite(o.dr.value) and o.ips.stderr >= 0
