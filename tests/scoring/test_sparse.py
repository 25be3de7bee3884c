"""Newcomers and sparse markets (issue 19, item 6): scored as soon as there is data, with an
interval; counts per active day; empirical-Bayes rate priors; small categories pooled; tiers by
absolute score where a percentile says little. Pure model code, no database."""

from __future__ import annotations

import numpy as np
import pytest

from townsquare.scoring.model.config import DEFAULT_CONFIG, LEGACY_RULES, ScoringConfig
from townsquare.scoring.model.peers import rate_strength
from townsquare.scoring.model.score import score_all, score_table
from townsquare.scoring.model.tiers import assign_tiers, tiers_of

from .rows import category, make_row

LEGACY = ScoringConfig(**LEGACY_RULES)


def _by_id(rows, config=DEFAULT_CONFIG):
    return {r.miniapp_id: r for r in score_all(rows, config)}


def test_a_newcomer_with_a_few_orders_is_scored_with_a_wide_interval():
    quiet = {"cancelled": 0, "complaints": 0, "refunds": 0, "resolved": 0}
    rows = category(12) + [
        make_row("new", orders=6, visits=24, ratings=2, responses=1, days_active=2, **quiet),
        make_row("twin", orders=84, visits=336, ratings=28, responses=14, **quiet),
    ]
    new = _by_id(rows)["new"]
    assert new.state == "scored" and new.overall is not None
    assert new.score_low <= new.overall <= new.score_high
    twin = _by_id(rows)["twin"]  # the same pace and record over four weeks
    # six orders say less than 84: the newcomer's interval is wider
    assert new.score_high - new.score_low > twin.score_high - twin.score_low > 0
    # the old gate (10 orders or 50 visits on 14 days) would not have scored it at all
    assert _by_id(rows, LEGACY)["new"].state == "insufficient_data"


def test_nothing_observed_is_still_not_scored():
    rows = category(12) + [make_row("empty", orders=0, visits=0, ratings=0, responses=0,
                                    days_active=0)]
    empty = _by_id(rows)["empty"]
    assert empty.state == "insufficient_data" and empty.score_low is None


def test_the_interval_narrows_as_orders_come_in():
    widths = []
    for orders in (5, 20, 80, 320, 1280):
        rows = category(15) + [make_row("x", orders=orders, cancelled=orders // 20,
                                        complaints=0, ratings=orders // 3, responses=orders // 8)]
        x = _by_id(rows)["x"]
        widths.append(x.score_high - x.score_low)
    # (on the percentile scale, not strictly at every step: a value among near-equal peers)
    assert widths[0] > widths[-1] + 5 and widths[-1] == min(widths) and widths[2] > widths[3]


def test_a_wider_z_gives_a_wider_interval_and_zero_gives_none():
    rows = category(12) + [make_row("x", orders=8, cancelled=0, complaints=0, days_active=4)]
    narrow = _by_id(rows, ScoringConfig(interval_z=0.0))["x"]
    assert narrow.score_low == narrow.score_high == narrow.overall
    wide = _by_id(rows, ScoringConfig(interval_z=2.0))["x"]
    usual = _by_id(rows)["x"]
    assert wide.score_high - wide.score_low > usual.score_high - usual.score_low
    with pytest.raises(ValueError):
        ScoringConfig(interval_z=-1)


def test_a_capped_score_keeps_its_cap_at_the_top_of_the_interval():
    rows = category(12) + [make_row("loud", orders=400, complaints=120)]
    loud = _by_id(rows)["loud"]
    assert loud.cap and loud.overall <= 59 and loud.score_high == loud.overall


def test_a_good_week_old_newcomer_is_not_judged_on_a_quarter_of_the_volume():
    # established: 100 orders in 28 days; the newcomer: 25 orders in 7 days, the same pace
    rows = category(12) + [make_row("week", orders=25, visits=100, ratings=8, days_active=7),
                           make_row("month", orders=100, visits=400, ratings=30)]
    by_id = _by_id(rows)
    assert by_id["week"].adjusted["orders"] == pytest.approx(by_id["month"].adjusted["orders"])
    assert by_id["week"].pillars["volume"] == by_id["month"].pillars["volume"]
    totals = _by_id(rows, ScoringConfig(counts_per_active_day=False))
    assert totals["week"].pillars["volume"] < totals["month"].pillars["volume"]


def test_the_rate_prior_is_as_strong_as_the_peers_spread_is_worth():
    config = DEFAULT_CONFIG
    n = np.full(200, 400.0)
    alike = np.full(200, 0.05) + np.random.default_rng(1).normal(0, 0.002, 200)
    apart = np.random.default_rng(2).beta(2, 10, 200)
    # peers that hardly differ: a few observations say little, the fixed strength stays
    assert rate_strength(alike, n, float(alike.mean()), config) == config.rate_prior_strength
    # peers far apart: a few observations already tell them apart
    k = rate_strength(apart, n, float(apart.mean()), config)
    assert config.rate_prior_min <= k < 15
    fixed = ScoringConfig(empirical_rate_prior=False)
    assert rate_strength(apart, n, float(apart.mean()), fixed) == fixed.rate_prior_strength
    assert rate_strength(apart[:2], n[:2], 0.2, config) == config.rate_prior_strength


def test_a_small_category_borrows_the_whole_market():
    rows = category(12) + category(4, prefix="p", category="pets")
    rows = [dict(r, category_code="pets") if r["miniapp_id"].startswith("p") else r
            for r in rows]
    by_id = _by_id(rows)
    pet = by_id["p000"]
    assert pet.peer_group == "pooled" and pet.peer_key == "*" and pet.peer_count == 16
    assert by_id["a000"].peer_group == "category" and by_id["a000"].peer_count == 12
    alone = _by_id(rows, ScoringConfig(min_category_peers=0))["p000"]
    assert alone.peer_group == "category" and alone.peer_count == 4


def test_city_groups_need_twenty_peers_now():
    rows = category(12, prefix="hz", city="hz") + category(8, prefix="sh", city="sh")
    assert _by_id(rows)["hz000"].peer_group == "category"  # 12 < 20
    more = category(22, prefix="hz", city="hz") + category(8, prefix="sh", city="sh")
    assert _by_id(more)["hz000"].peer_group == "category:city"
    assert _by_id(more)["sh000"].peer_group == "category"


def test_a_handful_of_peers_gets_tiers_by_score_not_by_rank():
    rows = [make_row(f"s{i}", orders=150 + 20 * i, cancelled=6 - i, complaints=0, ratings=80,
                     rating_avg=4.2 + i / 10, p90=60.0) for i in range(6)]
    config = ScoringConfig(tier_min_orders={}, tier_min_quality={})
    results = score_all(rows, config)
    tiers = assign_tiers(results, config)
    for r in results:
        t = tiers[r.miniapp_id]
        # the best tier whose score the app reaches, whatever its rank among six
        expected = next((x for x in "SABC" if r.overall >= config.tier_scores[x]), "D")
        assert t.tier == expected, (r.overall, t.tier)
        codes = {u["code"] for u in t.unmet}
        assert "percentile" not in codes
        if t.next_tier:
            text = next(u for u in t.unmet if u["code"] == "score")
            assert "tiers go by score" in text["en"] and "按分数" in text["zh"]
    # by rank, the best of six would be S whatever its score
    by_rank = assign_tiers(results, ScoringConfig(absolute_tiers_upto=0, tier_min_orders={},
                                                  tier_min_quality={}))
    best = max(results, key=lambda r: r.overall)
    assert by_rank[best.miniapp_id].tier == "S"
    assert best.overall < 80 and tiers[best.miniapp_id].tier != "S"


def test_small_category_tiers_agree_between_columns_and_decisions():
    rows = category(7) + [make_row("weak", orders=20, cancelled=8, complaints=3, rating_avg=3.0)]
    scores = score_table(rows, DEFAULT_CONFIG)
    table = tiers_of(scores)
    decisions = assign_tiers(scores.results(), DEFAULT_CONFIG)
    ids = scores.source.ids()
    for i, app in enumerate(ids):
        t = int(table.tier[i])
        assert decisions[app].tier == ("SABCD"[t] if t >= 0 else None)


def test_the_config_checks_the_new_settings():
    data = DEFAULT_CONFIG.to_json()
    assert ScoringConfig.from_json(data) == DEFAULT_CONFIG
    for bad in ({"tier_scores": {"S": 50, "A": 70, "B": 40, "C": 15}},
                {"tier_scores": {"S": 80}}, {"min_category_peers": -1},
                {"counts_per_active_day": 1}, {"rate_prior_min": -2}):
        with pytest.raises((ValueError, TypeError)):
            ScoringConfig.from_json({**data, **bad})
