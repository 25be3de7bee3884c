"""Slot composition: pinned first, sponsored at fixed positions, new-merchant share, Gini."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from townsquare.traffic.serving.ranking import (
    Candidate,
    Fixed,
    compose,
    gini,
    organic_order,
    required_new,
)


def cand(mid: int, q: float = 50, rel: float = 1.0, new: bool = False) -> Candidate:
    return Candidate(miniapp_id=mid, merchant_id=mid * 10, quality=q, relevance=rel, is_new=new)


def fixed(mid: int, reason: str, new: bool = False, **kw) -> Fixed:
    return Fixed(miniapp_id=mid, merchant_id=mid * 10, reason=reason, is_new=new, **kw)


def layout(slots):
    return [(s.position, s.miniapp_id, s.reason) for s in slots]


def test_organic_order_quality_times_relevance_ties_by_id():
    cs = [cand(3, 50, 1.0), cand(1, 25, 2.0), cand(2, 90, 0.5), cand(3, 10, 1.0)]
    assert [c.miniapp_id for c in organic_order(cs)] == [1, 3, 2]  # 50, 50, 45


def test_compose_known_layout():
    slots = compose(
        size=6,
        pinned=[fixed(100, "brand")],
        guaranteed=[fixed(7, "guaranteed", promise_id=70), fixed(8, "cold_start", new=True)],
        sponsored=[fixed(9, "sponsored", bid_id=90, price_fen=33), fixed(100, "sponsored")],
        sponsored_positions=[3, 5],
        organic=[cand(1, 90), cand(2, 80), cand(7, 99), cand(3, 70)],
        new_share=0.0,
    )
    assert layout(slots) == [
        (1, 100, "brand"), (2, 7, "guaranteed"), (3, 9, "sponsored"), (4, 8, "cold_start"),
        (5, 1, "organic"), (6, 2, "organic"),
    ]  # 100's sponsored claim and 7's organic claim are dropped (first claim wins)
    assert slots[1].promise_id == 70
    assert (slots[2].bid_id, slots[2].price_fen) == (90, 33)


def test_sponsored_moves_below_pinned():
    slots = compose(
        size=5, pinned=[fixed(1, "brand"), fixed(2, "brand")], guaranteed=[],
        sponsored=[fixed(3, "sponsored"), fixed(4, "sponsored")], sponsored_positions=[1, 2],
        organic=[cand(5), cand(6)], new_share=0,
    )
    assert layout(slots)[:4] == [
        (1, 1, "brand"), (2, 2, "brand"), (3, 3, "sponsored"), (4, 4, "sponsored"),
    ]


def test_new_share_promotes_latest_possible():
    # share 0.2: 1 new by k=5, 2 by k=10. The best new is promoted to position 5, the next to 10.
    organic = [cand(i, 100 - i) for i in range(1, 11)] + [cand(50, 5, new=True),
                                                         cand(51, 4, new=True)]
    slots = compose(size=10, pinned=[], guaranteed=[], sponsored=[], sponsored_positions=[],
                    organic=organic, new_share=0.2)
    assert [s.miniapp_id for s in slots] == [1, 2, 3, 4, 50, 5, 6, 7, 8, 51]
    assert all(s.reason == "organic" for s in slots)


def test_new_share_counts_fixed_new_items_and_looks_ahead():
    # Positions 2 and 3 are sponsored non-new; share 0.5 needs 1 new by k=2: it must be at 1.
    slots = compose(size=4, pinned=[], guaranteed=[],
                    sponsored=[fixed(20, "sponsored"), fixed(21, "sponsored")],
                    sponsored_positions=[2, 3],
                    organic=[cand(1, 90), cand(2, 80), cand(3, 1, new=True)], new_share=0.5)
    assert [s.miniapp_id for s in slots] == [3, 20, 21, 1]
    # A new guaranteed item already satisfies the share: organic stays in quality order.
    slots = compose(size=3, pinned=[], guaranteed=[fixed(9, "cold_start", new=True)],
                    sponsored=[], sponsored_positions=[],
                    organic=[cand(1, 90), cand(3, 1, new=True)], new_share=0.34)
    assert [s.miniapp_id for s in slots] == [9, 1, 3]


def test_not_enough_candidates_closes_holes_and_validates():
    slots = compose(size=10, pinned=[], guaranteed=[], sponsored=[fixed(9, "sponsored")],
                    sponsored_positions=[8], organic=[cand(1), cand(2)], new_share=0.3)
    assert layout(slots) == [(1, 1, "organic"), (2, 2, "organic"), (3, 9, "sponsored")]
    assert compose(size=0, pinned=[fixed(1, "brand")], guaranteed=[], sponsored=[],
                   sponsored_positions=[], organic=[cand(2)], new_share=0) == []
    with pytest.raises(ValueError):
        compose(size=3, pinned=[], guaranteed=[], sponsored=[], sponsored_positions=[],
                organic=[], new_share=1.5)


def test_gini():
    assert gini([]) == 0.0
    assert gini([0, 0]) == 0.0
    assert gini([5, 5, 5, 5]) == pytest.approx(0.0)
    assert gini([0, 0, 0, 10]) == pytest.approx(0.75)  # (n-1)/n for one holder of everything
    assert gini([1, 2, 3, 4]) == pytest.approx(0.25)
    with pytest.raises(ValueError):
        gini([1, -1])


ids = st.integers(1, 30)


@st.composite
def scenarios(draw):
    size = draw(st.integers(0, 15))
    pinned = [fixed(m, "brand", draw(st.booleans())) for m in draw(st.lists(ids, max_size=3))]
    guaranteed = [fixed(m, "guaranteed", draw(st.booleans()))
                  for m in draw(st.lists(ids, max_size=5))]
    sponsored = [fixed(m, "sponsored", draw(st.booleans()))
                 for m in draw(st.lists(ids, max_size=3))]
    positions = draw(st.lists(st.integers(1, 15), max_size=3, unique=True))
    organic = [cand(m, draw(st.integers(0, 100)), draw(st.sampled_from([0.5, 1.0, 2.0])),
                    draw(st.booleans())) for m in draw(st.lists(ids, max_size=25))]
    share = draw(st.sampled_from([0.0, 0.1, 0.2, 0.25, 0.3, 0.5, 0.75, 1.0]))
    return dict(size=size, pinned=pinned, guaranteed=guaranteed, sponsored=sponsored,
                sponsored_positions=positions, organic=organic, new_share=share)


@settings(max_examples=400, deadline=None)
@given(scenarios())
def test_compose_properties(sc):
    slots = compose(**sc)
    size = sc["size"]
    assert len(slots) <= size
    assert [s.position for s in slots] == list(range(1, len(slots) + 1))
    assert len({s.miniapp_id for s in slots}) == len(slots)  # no duplicates
    # Pinned first, in order (deduplicated).
    want_pinned = list(dict.fromkeys(p.miniapp_id for p in sc["pinned"]))[:size]
    assert [s.miniapp_id for s in slots[: len(want_pinned)]] == want_pinned
    assert all(s.reason != "brand" for s in slots[len(want_pinned):])
    full = len(slots) == size
    fixed_ids = {s.miniapp_id for s in slots if s.reason != "organic"}
    if full:
        # Sponsored at their configured positions unless pushed below a pinned/earlier item.
        by_pos = {s.position: s for s in slots}
        used = set(want_pinned)
        for item, pos in zip(sc["sponsored"], sorted(sc["sponsored_positions"]), strict=False):
            if item.miniapp_id in used:
                continue
            if pos <= size and pos > len(want_pinned) and by_pos[pos].reason != "sponsored":
                pytest.fail(f"sponsored position {pos} not honoured")
            used.add(item.miniapp_id)
        # The prefix share holds whenever it is feasible.
        new_pool = {c.miniapp_id for c in organic_order(sc["organic"]) if c.is_new} - fixed_ids
        fixed_new = organic_seen = 0
        feasible = True
        for k, s in enumerate(slots, start=1):
            if s.reason == "organic":
                organic_seen += 1
            elif s.is_new:
                fixed_new += 1
            if fixed_new + min(organic_seen, len(new_pool)) < required_new(sc["new_share"], k):
                feasible = False
        if feasible:
            for k in range(1, len(slots) + 1):
                assert sum(s.is_new for s in slots[:k]) >= required_new(sc["new_share"], k)
    # Organic items among themselves: non-new ones keep quality order.
    score = {c.miniapp_id: c.quality * c.relevance for c in organic_order(sc["organic"])}
    old = [score[s.miniapp_id] for s in slots if s.reason == "organic" and not s.is_new]
    assert old == sorted(old, reverse=True)
