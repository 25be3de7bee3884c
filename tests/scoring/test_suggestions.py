"""Suggestions: behind the median → the benchmark and the points, computed by re-scoring."""

from __future__ import annotations

from collections import defaultdict

import pytest

from townsquare.scoring.model import suggestions
from townsquare.scoring.model.catalogue import METRIC_BY_NAME
from townsquare.scoring.model.config import DEFAULT_CONFIG
from townsquare.scoring.model.peers import build_context
from townsquare.scoring.model.score import score_against, score_all

from .rows import category, make_row


def _scored(rows):
    results = score_all(rows, DEFAULT_CONFIG)
    peers = defaultdict(list)
    for r in results:
        peers[r.category_code].append(r)
    return {r.miniapp_id: r for r in results}, peers


def _laggard():
    rows = category(12)
    rows.append(make_row("slow", orders=150, fulfilled=110, cancelled=30, ratings=40,
                         rating_avg=3.6, p90=3600.0, complaints=2))
    return rows


def test_points_are_positive_prioritised_and_explained():
    by_id, peers = _scored(_laggard())
    slow = by_id["slow"]
    advice = suggestions.suggest(slow, peers=peers["food"], config=DEFAULT_CONFIG)
    assert advice, "a laggard gets suggestions"
    assert all(s.points > 0 for s in advice)
    assert [s.points for s in advice] == sorted((s.points for s in advice), reverse=True)
    metrics = {s.metric for s in advice}
    assert {"fulfillment_rate", "rating_avg", "response_p90_seconds"} <= metrics
    for s in advice:
        spec = METRIC_BY_NAME[s.metric]
        bench = slow.benchmarks[s.metric]
        assert s.median == bench["median"] and s.top_quartile == bench["top_quartile"]
        assert (s.current < s.median) if spec.higher_is_better else (s.current > s.median)
        assert f"+{s.points:.1f}" in s.text_en and f"+{s.points:.1f}" in s.text_zh
        assert spec.label_zh in s.text_zh and "中位数" in s.text_zh
    fulfil = next(s for s in advice if s.metric == "fulfillment_rate")
    assert "73.3%" in fulfil.text_zh  # 110 of 150


def test_points_match_re_scoring_with_the_model():
    rows = _laggard()
    by_id, peers = _scored(rows)
    slow = by_id["slow"]
    members = [r for r in rows if r["category_code"] == "food"]
    ctx = build_context(members, key=slow.peer_key, kind=slow.peer_group, config=DEFAULT_CONFIG)
    unchanged = score_against([slow.metrics], ctx, DEFAULT_CONFIG, as_member=slow.metrics)
    assert round(float(unchanged["overall"][0]), 2) == slow.overall  # same model, same answer
    for s in suggestions.suggest(slow, peers=peers["food"], config=DEFAULT_CONFIG):
        variant = {**slow.metrics, s.metric: s.median}
        again = score_against([variant], ctx, DEFAULT_CONFIG, as_member=slow.metrics)
        gained = float(again["overall"][0]) - float(unchanged["overall"][0])
        assert s.points == pytest.approx(gained, abs=0.006)


def test_removing_a_cap_is_worth_the_most():
    rows = category(10)
    rows.append(make_row("loud", orders=3000, visits=90000, complaints=600, communities=40,
                         ratings=900, rating_avg=4.8))
    by_id, peers = _scored(rows)
    loud = by_id["loud"]
    assert loud.cap
    advice = suggestions.suggest(loud, peers=peers["food"], config=DEFAULT_CONFIG)
    assert advice[0].metric == "complaint_rate"
    assert advice[0].points > 10


def test_leaders_and_unscored_apps_get_no_point_suggestions():
    rows = category(8) + [
        make_row("best", orders=5000, cancelled=0, refunds=0, complaints=0, ratings=900,
                 rating_avg=4.95, p90=20.0, communities=60, repeat=3000),
        # nothing observed: unscored (since 2026.4 one order or visit is enough for a score)
        make_row("new", orders=0, visits=0, ratings=0, responses=0, days_active=0),
    ]
    by_id, peers = _scored(rows)
    assert by_id["new"].state == "insufficient_data"
    assert suggestions.suggest(by_id["best"], peers=peers["food"], config=DEFAULT_CONFIG) == []
    assert suggestions.suggest(by_id["new"], peers=peers["food"], config=DEFAULT_CONFIG) == []


def test_peers_list_may_be_any_superset_in_any_order():
    rows = _laggard() + [dict(r, miniapp_id="x" + r["miniapp_id"], category_code="laundry")
                         for r in category(6)]
    by_id, _ = _scored(rows)
    everyone = list(by_id.values())
    slow = by_id["slow"]
    one = suggestions.suggest(slow, peers=everyone, config=DEFAULT_CONFIG)
    two = suggestions.suggest(slow, peers=list(reversed(everyone)), config=DEFAULT_CONFIG)
    assert [s.to_json() for s in one] == [s.to_json() for s in two]


def test_suggest_all_gives_the_same_as_one_by_one():
    # "tiny" observed nothing: unscored (since 2026.4 one order or visit is enough for a score)
    rows = _laggard() + category(7, prefix="hz", city="sh") + [
        make_row("tiny", orders=0, visits=0, ratings=0, responses=0, days_active=0)]
    by_id, peers = _scored(rows)
    results = list(by_id.values())
    bulk = suggestions.suggest_all(results, DEFAULT_CONFIG)
    assert "tiny" not in bulk and "slow" in bulk
    for app, result in by_id.items():
        single = suggestions.suggest(result, peers=peers["food"], config=DEFAULT_CONFIG)
        assert [s.to_json() for s in bulk.get(app, [])] == [s.to_json() for s in single]


def test_a_shop_late_to_accept_and_deliver_is_told_so_and_one_without_them_is_not_judged():
    """The punctuality rates are scored and suggested like the other quality rates; a mini-app
    with none of those events (no ordering orders) has no value, score or suggestion for them."""
    rows = [make_row(f"p{i}", orders=100, accepts=100, accepted_late=2 + i % 3, ready=100,
                     ready_late=3, deliveries=60, delivered_late=4, incidents=1 + i % 2)
            for i in range(10)]
    rows.append(make_row("late", orders=100, accepts=100, accepted_late=40, ready=100,
                         ready_late=3, deliveries=60, delivered_late=30, incidents=12))
    rows.append(make_row("cash"))  # orders, but none through ordering
    by_id, peers = _scored(rows)
    late, cash = by_id["late"], by_id["cash"]
    advice = {s.metric: s for s in suggestions.suggest(late, peers=peers["food"],
                                                       config=DEFAULT_CONFIG)}
    assert {"accept_on_time_rate", "delivery_on_time_rate", "incident_rate"} <= set(advice)
    assert "ready_on_time_rate" not in advice  # as good as its peers
    assert "按时接单率" in advice["accept_on_time_rate"].text_zh
    assert "60.0%" in advice["accept_on_time_rate"].text_zh  # 60 of 100 on time
    assert late.metric_scores["accept_on_time_rate"] < by_id["p0"].metric_scores[
        "accept_on_time_rate"]
    for name in ("accept_on_time_rate", "ready_on_time_rate", "delivery_on_time_rate",
                 "incident_rate"):
        assert cash.metric_scores[name] is None and cash.contributions[name] == 0
    assert not any(s.metric == "accept_on_time_rate" for s in suggestions.suggest(
        cash, peers=peers["food"], config=DEFAULT_CONFIG))
