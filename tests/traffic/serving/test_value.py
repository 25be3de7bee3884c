"""A feed that converts (issue 19, item 4), pure: expected good orders per look, relevant pacing,
and `compose(guaranteed_by_value=True)` placing guaranteed and organic items together by value
while every promise in the response is still delivered and the new-merchant share holds."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from townsquare.traffic.serving import value
from townsquare.traffic.serving.ranking import Candidate, Fixed, compose, required_new


def test_expected_good_orders_is_the_product_of_its_three_parts():
    # P(click) = 1/log2(3) × 0.5 × 0.1; P(order | click) = 0.1 + 0.4 × 0.8; P(good) = 0.8
    found = value.expected_good_orders(position=2, relevance=0.5, click=0.1, score=80)
    assert found == pytest.approx(1 / math.log2(3) * 0.05 * 0.42 * 0.8)
    assert value.per_look(relevance=1, click=0.1, score=0) == 0.0  # nothing good expected
    assert value.examination(1) == 1.0
    # a better score is worth more than proportionally (it converts AND ends well)
    low = value.per_look(relevance=1, click=0.1, score=40)
    high = value.per_look(relevance=1, click=0.1, score=80)
    assert high / low > 2


def test_click_rate_shrinks_towards_the_prior():
    assert value.click_rate(impressions=0, clicks=0, prior=0.05, strength=200) == 0.05
    few = value.click_rate(impressions=10, clicks=5, prior=0.05, strength=200)
    many = value.click_rate(impressions=10_000, clicks=5_000, prior=0.05, strength=200)
    assert 0.05 < few < 0.1 < many < 0.5
    # more clicks than impressions (a bad count) counts as every impression clicked
    assert value.click_rate(impressions=10, clicks=50, prior=0.0, strength=1) == pytest.approx(
        10 / 11)
    assert value.prior_click_rate([(100, 10), (300, 10)]) == pytest.approx(20 / 400)
    assert value.prior_click_rate([]) == value.DEFAULT_CLICK_RATE


@pytest.mark.parametrize("call", [
    lambda: value.examination(0),
    lambda: value.order_rate(101),
    lambda: value.good_rate(float("nan")),
    lambda: value.per_look(relevance=-1, click=0.1, score=50),
    lambda: value.click_rate(impressions=-1, clicks=0, prior=0.1, strength=1),
    lambda: value.click_rate(impressions=1, clicks=0, prior=1.5, strength=1),
    lambda: value.click_rate(impressions=1, clicks=0, prior=0.1, strength=0),
    lambda: value.pacing_priority(value=1, behind=1, unit=0),
])
def test_nonsense_is_refused(call):
    with pytest.raises(ValueError):
        call()


def test_relevant_pacing_serves_only_the_behind_and_prefers_the_valuable():
    assert value.pacing_priority(value=0.9, behind=0) == 0.0
    assert value.pacing_priority(value=0.9, behind=-5) == 0.0
    assert value.pacing_priority(value=0.9, behind=0.5) == pytest.approx(0.45)  # a sliver
    far_behind_poor = value.pacing_priority(value=0.1, behind=1_000)
    just_behind_good = value.pacing_priority(value=0.5, behind=2)
    assert just_behind_good > far_behind_poor
    assert value.pacing_priority(value=0.2, behind=240, unit=240) == pytest.approx(0.2)


# -- compose by value -------------------------------------------------------------------------
def cand(i: int, worth: float, *, new: bool = False) -> Candidate:
    return Candidate(i, i, worth, 1.0, new)


def promised(i: int, worth: float, *, new: bool = False) -> Fixed:
    return Fixed(i, i, "guaranteed", new, promise_id=100 + i, value=worth)


def test_guaranteed_items_sit_among_organic_ones_by_value():
    slots = compose(size=5, pinned=[], sponsored=[Fixed(9, 9, "sponsored", False, bid_id=1)],
                    sponsored_positions=[3], guaranteed=[promised(1, 0.01), promised(2, 0.5)],
                    organic=[cand(3, 0.9), cand(4, 0.3), cand(5, 0.2), cand(6, 0.1)],
                    new_share=0.0, guaranteed_by_value=True)
    assert [(s.miniapp_id, s.reason) for s in slots] == [
        (3, "organic"), (2, "guaranteed"), (9, "sponsored"), (4, "organic"), (1, "guaranteed"),
    ]
    assert {s.promise_id for s in slots if s.reason == "guaranteed"} == {101, 102}
    # the old way: guaranteed first, in the order given
    old = compose(size=5, pinned=[], sponsored=[], sponsored_positions=[],
                  guaranteed=[promised(1, 0.01), promised(2, 0.5)],
                  organic=[cand(3, 0.9), cand(4, 0.3)], new_share=0.0)
    assert [s.miniapp_id for s in old[:2]] == [1, 2]


def test_every_guaranteed_item_is_shown_even_when_organic_ones_are_worth_more():
    slots = compose(size=3, pinned=[], sponsored=[], sponsored_positions=[],
                    guaranteed=[promised(1, 0.0), promised(2, 0.0)],
                    organic=[cand(3, 0.9), cand(4, 0.8), cand(5, 0.7)], new_share=0.0,
                    guaranteed_by_value=True)
    assert [s.miniapp_id for s in slots] == [3, 1, 2]


def test_the_new_merchant_share_still_holds():
    slots = compose(size=5, pinned=[], sponsored=[], sponsored_positions=[],
                    guaranteed=[promised(1, 0.5)],
                    organic=[cand(2, 0.9), cand(3, 0.8), cand(4, 0.7), cand(5, 0.1, new=True),
                             cand(6, 0.05, new=True)],
                    new_share=0.4, guaranteed_by_value=True)
    ids = [s.miniapp_id for s in slots]
    for k in range(1, 6):
        assert sum(s.is_new for s in slots[:k]) >= required_new(0.4, k)
    assert ids[0] == 2 and 1 in ids


@given(
    st.lists(st.floats(0, 1), min_size=0, max_size=4),
    st.lists(st.tuples(st.floats(0, 1), st.booleans()), min_size=0, max_size=12),
    st.lists(st.integers(1, 10), max_size=2, unique=True),
    st.integers(1, 10), st.sampled_from([0.0, 0.2, 0.3]),
)
@settings(max_examples=150, deadline=None)
def test_by_value_invariants(g_values, organic, ad_positions, size, share):
    guaranteed = [promised(i, v) for i, v in enumerate(g_values)]
    base = len(guaranteed)
    pool = [cand(base + j, v, new=n) for j, (v, n) in enumerate(organic)]
    ads = [Fixed(1000 + p, 1000 + p, "sponsored", False, bid_id=p) for p in ad_positions]
    slots = compose(size=size, pinned=[], sponsored=ads, sponsored_positions=ad_positions,
                    guaranteed=guaranteed, organic=pool, new_share=share,
                    guaranteed_by_value=True)
    ids = [s.miniapp_id for s in slots]
    assert len(ids) == len(set(ids))
    assert [s.position for s in slots] == list(range(1, len(slots) + 1))
    placed_ads = sum(1 for s in slots if s.reason == "sponsored")
    # every promise shown as long as positions are left for it
    shown = sum(1 for s in slots if s.reason == "guaranteed")
    assert shown == min(len(guaranteed), size - placed_ads)
    # organic items in value order among themselves
    organic_values = [next(c.quality for c in pool if c.miniapp_id == s.miniapp_id)
                      for s in slots if s.reason == "organic" and not s.is_new]
    assert organic_values == sorted(organic_values, reverse=True)


def test_promises_come_before_the_new_merchant_share_when_they_fill_the_list():
    # (found by the property above) four promises, four positions, new organic candidates
    slots = compose(size=4, pinned=[], sponsored=[], sponsored_positions=[],
                    guaranteed=[promised(i, 0.0) for i in range(4)],
                    organic=[cand(10, 0.9, new=True), cand(11, 0.8, new=True)], new_share=0.3,
                    guaranteed_by_value=True)
    assert [s.reason for s in slots] == ["guaranteed"] * 4
