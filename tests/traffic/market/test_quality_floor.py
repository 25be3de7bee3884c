"""Paid traffic that cannot buy past quality (issue 19, item 3), pure: the absolute score floor,
quality weighed as quality^k, one merchant's share cap of a target's sponsored impressions, and
the operator's knobs for them."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from townsquare.core.errors import ValidationFailed
from townsquare.traffic import config as traffic_config
from townsquare.traffic.config import DEFAULT_CONFIG
from townsquare.traffic.market import bids
from townsquare.traffic.market.auction import (
    AuctionConfig,
    Bid,
    quality_factor_bp,
    run_auction,
    within_share,
)

NOON = 43_200.0


def row(bid_id: int, *, merchant: int, score: float | None = 80.0, tier: str | None = "A",
        cpc: int = 100, impressions: int = 0, spent: int = 0) -> bids.BidRow:
    return bids.BidRow(bid_id, bid_id, f"ma_{bid_id}", cpc, 1_000_000, (), tier, score, None,
                       spent, merchant_id=merchant, impressions=impressions)


def picked(rows, config=DEFAULT_CONFIG, slots=2) -> list[int]:
    return [p.bid_id for p in bids.pick(rows, city="武汉", seconds=NOON, slots=slots,
                                        config=config)]


# -- the auction ---------------------------------------------------------------------------------
def test_the_defaults_are_the_steep_ones():
    found = bids.auction_config(DEFAULT_CONFIG, slots=2)
    assert (found.min_tier, found.min_score, found.quality_exponent) == ("B", 60.0, 2.0)
    assert (DEFAULT_CONFIG.ads_max_merchant_share, DEFAULT_CONFIG.ranking) == (0.25, "value")


def test_a_score_below_the_floor_never_buys_a_slot_whatever_it_bids():
    config = AuctionConfig(slots=3, min_tier="B", min_score=60, quality_exponent=2)
    result = run_auction(bids=[Bid("rich", 5_000_000, 59.9, "A"), Bid("fair", 20, 60, "B")],
                         config=config)
    assert [p.miniapp_id for p in result.placements] == ["fair"]
    assert [(e.miniapp_id, e.reason) for e in result.excluded] == [("rich", "score")]
    # the tier floor is checked first and still says so
    low = run_auction(bids=[Bid("c", 100, 90, "C")], config=config)
    assert [e.reason for e in low.excluded] == ["tier"]


@given(st.lists(st.tuples(st.integers(10, 10_000_000), st.floats(0, 59.99)), min_size=1,
                max_size=8))
@settings(max_examples=60, deadline=None)
def test_no_bid_below_the_floor_is_ever_placed(entries):
    config = AuctionConfig(slots=5, min_tier="D", min_score=60)
    result = run_auction(bids=[Bid(f"m{i}", fen, s, "S") for i, (fen, s) in enumerate(entries)],
                         config=config)
    assert result.placements == ()
    assert len(result.excluded) == len(entries)


def test_quality_squared_makes_a_lower_score_pay_the_square():
    flat = AuctionConfig(quality_floor=0.1, quality_exponent=1.0)
    steep = AuctionConfig(quality_floor=0.1, quality_exponent=2.0)
    # what a score-60 mini-app must bid per fen of a score-90 one to outrank it
    need_flat = quality_factor_bp(90, config=flat) / quality_factor_bp(60, config=flat)
    need_steep = quality_factor_bp(90, config=steep) / quality_factor_bp(60, config=steep)
    assert need_flat == pytest.approx(9100 / 6400)
    assert need_steep == pytest.approx(8290 / 4240)
    assert need_steep > need_flat ** 1.8
    result = run_auction(bids=[Bid("good", 100, 90, "A"), Bid("fair", 190, 60, "B")],
                         config=steep)
    assert result.placements[0].miniapp_id == "good"  # 190 < 1.96 × 100


@pytest.mark.parametrize(("own", "total", "cap", "allowance", "expected"), [
    (0, 0, 0.25, 20, True),  # the day starts
    (19, 19, 0.25, 20, True),  # within the allowance
    (20, 20, 0.25, 20, False),
    (24, 100, 0.25, 0, True),
    (25, 100, 0.25, 0, False),  # a quarter reached
    (100, 100, 1.0, 0, True),  # a cap of 1 never limits
])
def test_within_share(own, total, cap, allowance, expected):
    assert within_share(own=own, total=total, cap=cap, allowance=allowance) is expected


@pytest.mark.parametrize("kwargs", [dict(own=-1, total=0), dict(own=5, total=4),
                                    dict(cap=0.0), dict(cap=1.5), dict(cap=float("nan")),
                                    dict(allowance=-1)])
def test_within_share_refuses_nonsense(kwargs):
    args = dict(own=0, total=0, cap=0.25, allowance=0) | kwargs
    with pytest.raises(ValidationFailed):
        within_share(**args)


@pytest.mark.parametrize("kwargs", [dict(min_score=-1), dict(min_score=100.5),
                                    dict(min_score=float("nan"))])
def test_the_auction_refuses_a_bad_score_floor(kwargs):
    with pytest.raises(ValidationFailed):
        AuctionConfig(**kwargs)


# -- bids.pick: the floors and the share cap over a target's bid rows -----------------------------
def test_pick_keeps_scores_below_the_floor_out_and_ranks_by_quality_squared():
    rows = [row(1, merchant=1, score=59.0, tier="A", cpc=9_000),
            row(2, merchant=2, score=90.0, tier="S", cpc=100),
            row(3, merchant=3, score=65.0, tier="B", cpc=150)]
    # 3: 150 × (0.1 + 0.9 × 0.4225) = 150 × 0.48 < 2: 100 × 0.829
    assert picked(rows) == [2, 3]
    old = DEFAULT_CONFIG.model_copy(update={"ads_min_score": 0.0, "ads_quality_exponent": 1.0})
    # before: the money won, and 150 × 0.685 outranked 100 × 0.91
    assert picked(rows, old) == [1, 3]


def test_pick_caps_one_merchants_share_of_the_targets_sponsored_impressions():
    # merchant 1 has two bids; together they had 30 of today's 100 impressions (> 25 %)
    rows = [row(1, merchant=1, cpc=500, impressions=20),
            row(2, merchant=1, cpc=400, impressions=10),
            row(3, merchant=2, cpc=100, impressions=20),
            row(4, merchant=3, cpc=90, impressions=20),
            row(5, merchant=4, cpc=900, impressions=30)]
    assert picked(rows) == [3, 4]
    loose = DEFAULT_CONFIG.model_copy(update={"ads_max_merchant_share": 1.0})
    assert picked(rows, loose) == [5, 1]
    # the allowance lets the first impressions of a day go to anyone
    fresh = [row(1, merchant=1, cpc=500, impressions=5), row(3, merchant=2, cpc=100)]
    assert picked(fresh) == [1, 3]


# -- the operator's knobs --------------------------------------------------------------------------
@pytest.mark.parametrize("change", [
    {"ads_min_score": -1}, {"ads_min_score": 101}, {"ads_quality_exponent": 0.5},
    {"ads_quality_exponent": 7}, {"ads_max_merchant_share": 0}, {"ads_max_merchant_share": 1.5},
    {"ads_share_allowance": -1}, {"ranking": "bid"}, {"ranking_prior_impressions": 0},
    {"ads_min_tier": "E"},
])
def test_the_new_knobs_are_validated(change):
    data = DEFAULT_CONFIG.model_dump(mode="json") | change
    with pytest.raises(ValidationFailed):
        traffic_config.load(data)


def test_the_new_knobs_load_at_their_edges():
    data = DEFAULT_CONFIG.model_dump(mode="json") | {
        "ads_min_score": 100, "ads_quality_exponent": 6, "ads_max_merchant_share": 1,
        "ads_share_allowance": 0, "ranking": "quality"}
    found = traffic_config.load(data)
    assert (found.ads_min_score, found.ads_quality_exponent, found.ranking) == (100, 6, "quality")
    # a version stored before these knobs existed loads with the defaults
    old = {k: v for k, v in DEFAULT_CONFIG.model_dump(mode="json").items()
           if not k.startswith(("ads_min_score", "ads_quality", "ads_max", "ads_share",
                                "ranking"))}
    assert traffic_config.load(old, stored=True).ads_min_score == 60.0
