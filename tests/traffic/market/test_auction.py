"""The paid-exposure auction: eligibility, ranking by bid × quality, GSP prices, ties, reserve."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from townsquare.core.errors import ValidationFailed
from townsquare.traffic.market.auction import (
    AuctionConfig,
    Bid,
    quality_factor_bp,
    run_auction,
    tier_at_least,
)

# score 100 → factor 1.0, score 50 → 0.55, score 0 → 0.1 with the default floor of 0.1
CONFIG = AuctionConfig(slots=2, reserve_fen=10, min_tier="B")


def bid(mid: str, fen: int, score: float = 100, tier: str | None = "A") -> Bid:
    return Bid(miniapp_id=mid, bid_fen=fen, score=score, tier=tier)


def by_id(result):
    return {p.miniapp_id: p for p in result.placements}


def test_quality_factor_mapping():
    assert quality_factor_bp(100, config=CONFIG) == 10_000
    assert quality_factor_bp(50, config=CONFIG) == 5_500
    assert quality_factor_bp(0, config=CONFIG) == 1_000
    steep = AuctionConfig(quality_exponent=2.0)
    assert quality_factor_bp(50, config=steep) == 3_250
    for bad in (-1, 100.5, float("nan")):
        with pytest.raises(ValidationFailed):
            quality_factor_bp(bad, config=CONFIG)


def test_gsp_known_example_equal_quality():
    # Equal quality: the classic GSP, each pays the next bid.
    result = run_auction(bids=[bid("a", 100), bid("b", 80), bid("c", 50)], config=CONFIG)
    assert [(p.miniapp_id, p.price_fen) for p in result.placements] == [("a", 80), ("b", 50)]
    assert result.outranked == ("c",)


def test_gsp_known_example_with_quality():
    # a: 100 × 0.55 = 55.0; b: 60 × 1.0 = 60.0 → b first; c: 40 × 1.0 = 40.0.
    bids = [bid("a", 100, score=50), bid("b", 60, score=100), bid("c", 40, score=100)]
    result = run_auction(bids=bids, config=CONFIG)
    assert [p.miniapp_id for p in result.placements] == ["b", "a"]
    prices = {p.miniapp_id: p.price_fen for p in result.placements}
    assert prices["b"] == 55  # 100 × 5500 / 10000 = 55 exactly; b has the better quality on a tie
    assert prices["a"] == 73  # ceil(40 × 10000 / 5500) = ceil(72.7) = 73
    assert all(p.price_fen <= p.bid_fen for p in result.placements)


def test_quality_beats_higher_bid():
    result = run_auction(bids=[bid("rich", 200, score=10), bid("good", 90, score=95)],
                         config=CONFIG)
    assert result.placements[0].miniapp_id == "good"
    assert result.placements[0].bid_fen < result.placements[1].bid_fen


def test_rounds_up_to_the_fen():
    # 70 × 0.55 = 38.5 → the winner with quality 1.0 needs 38.5 → 39 fen.
    result = run_auction(bids=[bid("a", 50), bid("b", 70, score=50)], config=CONFIG)
    assert result.placements[0].miniapp_id == "a"
    assert result.placements[0].price_fen == 39


def test_below_tier_excluded_whatever_the_bid():
    bids = [bid("c", 10_000, tier="C"), bid("none", 10_000, tier=None), bid("b", 20, tier="B"),
            bid("s", 15, tier="S")]
    result = run_auction(bids=bids, config=CONFIG)
    assert [p.miniapp_id for p in result.placements] == ["b", "s"]
    assert {(e.miniapp_id, e.reason) for e in result.excluded} == {("c", "tier"), ("none", "tier")}
    # The excluded bids do not set anyone's price either.
    assert by_id(result)["b"].price_fen == 15
    assert tier_at_least("S", "B") and tier_at_least("B", "B") and not tier_at_least("D", "B")
    with pytest.raises(ValidationFailed):
        tier_at_least("B", "Z")


def test_reserve_price():
    bids = [bid("a", 100), bid("low", 9)]
    result = run_auction(bids=bids, config=CONFIG)
    assert [p.miniapp_id for p in result.placements] == ["a"]
    assert result.placements[0].price_fen == 10  # alone (the low bid is out): pays the reserve
    assert [(e.miniapp_id, e.reason) for e in result.excluded] == [("low", "reserve")]
    # A GSP price below the reserve is raised to it: b's next bidder would only need 5 fen.
    cheap = AuctionConfig(slots=2, reserve_fen=30)
    result = run_auction(bids=[bid("a", 100), bid("b", 40), bid("c", 30, score=0)], config=cheap)
    assert by_id(result)["b"].price_fen == 30


def test_fixed_number_of_slots_and_zero_slots():
    bids = [bid(f"m{i}", 100 + i) for i in range(6)]
    assert len(run_auction(bids=bids, config=AuctionConfig(slots=4)).placements) == 4
    result = run_auction(bids=bids, config=AuctionConfig(slots=0))
    assert result.placements == () and len(result.outranked) == 6


def test_deterministic_tie_breaking():
    # Same bid and quality: the smaller id wins, whatever the input order; it pays its own bid.
    for order in (["x", "y"], ["y", "x"]):
        result = run_auction(bids=[bid(m, 50) for m in order], config=CONFIG)
        assert [p.miniapp_id for p in result.placements] == ["x", "y"]
        assert result.placements[0].price_fen == 50
    # Equal rank score: the better quality wins the tie and can pay exactly the tie.
    result = run_auction(bids=[bid("a", 100, score=50), bid("z", 55, score=100)], config=CONFIG)
    assert [p.miniapp_id for p in result.placements] == ["z", "a"]
    assert result.placements[0].price_fen == 55
    # ...and the worse quality must pay one fen more than the tie to stay ahead.
    result = run_auction(bids=[bid("a", 101, score=50), bid("z", 55, score=100)], config=CONFIG)
    assert [p.miniapp_id for p in result.placements] == ["a", "z"]
    assert result.placements[0].price_fen == 101  # 100 would tie and lose


@pytest.mark.parametrize("bad", [
    [bid("a", 0)], [bid("a", -5)], [bid("a", 10), bid("a", 20)], [bid("", 10)],
    [Bid("a", 10.5, 50, "A")], [Bid("a", True, 50, "A")], [bid("a", 10, score=101)],
])
def test_invalid_bids_rejected(bad):
    with pytest.raises(ValidationFailed):
        run_auction(bids=bad, config=CONFIG)


def test_invalid_config_rejected():
    for kwargs in ({"slots": -1}, {"reserve_fen": 0}, {"min_tier": "E"}, {"quality_floor": 0},
                   {"quality_exponent": 0}):
        with pytest.raises(ValidationFailed):
            AuctionConfig(**kwargs)


bid_lists = st.lists(
    st.tuples(st.integers(1, 5_000), st.floats(0, 100),
              st.sampled_from(["S", "A", "B", "C", None])),
    min_size=1, max_size=12,
).map(lambda rows: [Bid(f"m{i:02d}", b, s, t) for i, (b, s, t) in enumerate(rows)])
configs = st.builds(AuctionConfig, slots=st.integers(1, 5), reserve_fen=st.integers(1, 200),
                    min_tier=st.sampled_from(["A", "B", "C"]))


def replace_bid(bids, mid, fen):
    return [Bid(b.miniapp_id, fen if b.miniapp_id == mid else b.bid_fen, b.score, b.tier)
            for b in bids]


@settings(max_examples=300, deadline=None)
@given(bids=bid_lists, config=configs, data=st.data())
def test_gsp_price_is_the_least_bid_that_keeps_the_position(bids, config, data):
    result = run_auction(bids=bids, config=config)
    for p in result.placements:
        assert config.reserve_fen <= p.price_fen <= p.bid_fen
    if not result.placements:
        return
    won = data.draw(st.sampled_from(result.placements))
    # Any own bid from the price up to the current bid keeps the position and the price:
    # the price does not depend on the advertiser's own bid within its position.
    new_bid = data.draw(st.integers(won.price_fen, won.bid_fen))
    again = run_auction(bids=replace_bid(bids, won.miniapp_id, new_bid), config=config)
    assert again.placements[won.position - 1].miniapp_id == won.miniapp_id
    assert again.placements[won.position - 1].price_fen == won.price_fen
    assert [p.miniapp_id for p in again.placements] == [p.miniapp_id for p in result.placements]
    # One fen less than the price loses the position (or the reserve stops the bid).
    if won.price_fen > 1:
        lower = run_auction(bids=replace_bid(bids, won.miniapp_id, won.price_fen - 1),
                            config=config)
        position = {p.miniapp_id: p.position for p in lower.placements}.get(won.miniapp_id)
        assert position is None or position > won.position


@settings(max_examples=200, deadline=None)
@given(bids=bid_lists, config=configs)
def test_ranking_is_by_bid_times_quality_and_order_free(bids, config):
    result = run_auction(bids=bids, config=config)
    scores = [p.rank_score for p in result.placements]
    assert scores == sorted(scores, reverse=True)
    assert run_auction(bids=list(reversed(bids)), config=config) == result
    placed = {p.miniapp_id for p in result.placements}
    for b in bids:
        if b.miniapp_id in placed:
            assert tier_at_least(b.tier, config.min_tier) and b.bid_fen >= config.reserve_fen
