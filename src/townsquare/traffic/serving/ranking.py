"""Slot composition for one response (pure, no database): who sits at which position, and why.

`compose` lays out positions 1..size in claim order:
1. pinned items (a certified brand for a search naming it) take the first positions;
2. sponsored items go to their configured fixed positions (best bid to the earliest); a position
   already taken moves the item to the next free position after it, so a sponsored item is never
   above a pinned one;
3. guaranteed items (plan allocations: tier incentives, cold start, points, campaigns) fill the
   earliest remaining positions in the order given (the caller orders them most-behind first);
4. organic candidates fill the rest by quality × relevance (descending, ties by mini-app id).
With `guaranteed_by_value` (the "value" ranking), steps 3 and 4 become one: every guaranteed
item is still shown (its promise is delivered wherever it sits), but guaranteed and organic items
share the free positions in order of their value (`Fixed.value`, and quality × relevance of a
candidate: the caller gives both as expected good orders per look, `serving.value`), so a
promised mini-app a resident is unlikely to order from sits below a better organic match.
A mini-app appears once: the first claim in that order wins and later claims are dropped.

The new-merchant share: for every prefix k, at least floor(new_share × k) items must come from new
merchants whenever the organic pool can make that true. Only organic positions change; pinned,
sponsored and guaranteed items stay where they are. New organic candidates are promoted as *late*
as the invariant allows (a backward pass computes, per organic position, how many new items must
already be placed by then), so the quality order is disturbed as little as possible: this is the
"promote the best remaining new candidate into the earliest violating position" repair, done in
one pass and also correct when fixed items sit between organic positions. Positions left empty
(the pool ran out) are closed up, so the answer is numbered 1..n without holes.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = ["Candidate", "Fixed", "Slot", "compose", "gini", "organic_order", "required_new"]

ORGANIC = "organic"


@dataclass(frozen=True, slots=True)
class Candidate:
    """An organic candidate: quality (the service score, any scale) × relevance orders them."""

    miniapp_id: int
    merchant_id: int
    quality: float
    relevance: float
    is_new: bool


@dataclass(frozen=True, slots=True)
class Fixed:
    """An item whose place is decided before organic ranking (pinned, sponsored, guaranteed)."""

    miniapp_id: int
    merchant_id: int
    reason: str
    is_new: bool
    promise_id: int | None = None
    bid_id: int | None = None
    price_fen: int | None = None
    value: float = 0.0  # with `guaranteed_by_value`: where it sits among the organic items


@dataclass(frozen=True, slots=True)
class Slot:
    """One position (1 = top) of a response and why the item is there."""

    position: int
    miniapp_id: int
    merchant_id: int
    reason: str
    is_new: bool
    promise_id: int | None
    bid_id: int | None
    price_fen: int | None


def required_new(new_share: float, k: int) -> int:
    """floor(new_share × k): new merchants' items needed in the top-k prefix."""
    # The epsilon absorbs float error (0.29 × 100 = 28.999…) without changing any exact case.
    return math.floor(new_share * k + 1e-9)


def organic_order(candidates: Iterable[Candidate]) -> list[Candidate]:
    """Candidates by quality × relevance (desc, ties by mini-app id), each mini-app once."""
    ranked = sorted(candidates, key=lambda c: (-(c.quality * c.relevance), c.miniapp_id))
    seen: set[int] = set()
    out = []
    for c in ranked:
        if c.miniapp_id not in seen:
            seen.add(c.miniapp_id)
            out.append(c)
    return out


def _slot(position: int, item: Fixed) -> Slot:
    return Slot(position, item.miniapp_id, item.merchant_id, item.reason, item.is_new,
                item.promise_id, item.bid_id, item.price_fen)


def _organic_slot(position: int, c: Candidate) -> Slot:
    return Slot(position, c.miniapp_id, c.merchant_id, ORGANIC, c.is_new, None, None, None)


def _place_fixed(
    size: int, pinned: Sequence[Fixed], guaranteed: Sequence[Fixed], sponsored: Sequence[Fixed],
    sponsored_positions: Sequence[int], *, place_guaranteed: bool = True,
) -> tuple[list[Slot | None], set[int]]:
    layout: list[Slot | None] = [None] * (size + 1)  # index 0 unused
    used: set[int] = set()
    nxt = 1
    for item in pinned:
        if nxt > size:
            break
        if item.miniapp_id not in used:
            used.add(item.miniapp_id)
            layout[nxt] = _slot(nxt, item)
            nxt += 1
    for item, wanted in zip(sponsored, sorted(sponsored_positions), strict=False):
        if item.miniapp_id in used or wanted < 1:
            continue
        pos = wanted
        while pos <= size and layout[pos] is not None:
            pos += 1
        if pos <= size:
            used.add(item.miniapp_id)
            layout[pos] = _slot(pos, item)
    if not place_guaranteed:
        return layout, used
    free = (p for p in range(1, size + 1) if layout[p] is None)
    for item in guaranteed:
        if item.miniapp_id in used:
            continue
        spot = next(free, None)
        if spot is None:
            break
        used.add(item.miniapp_id)
        layout[spot] = _slot(spot, item)
    return layout, used


def _needed_by(layout: list[Slot | None], organic_pos: list[int], new_share: float) -> list[int]:
    """Per organic position (in order), how many new organic items must be placed by then."""
    size = len(layout) - 1
    need = [0] * len(organic_pos)
    j = -1  # index of the last organic position ≤ k
    fixed_new = 0
    for k in range(1, size + 1):
        slot = layout[k]
        if slot is None:
            j += 1
        elif slot.is_new:
            fixed_new += 1
        deficit = required_new(new_share, k) - fixed_new
        if j >= 0 and deficit > need[j]:
            need[j] = deficit  # (deficit before any organic position: infeasible, ignored)
    # Backward pass: one organic position adds at most one new item, so needing L by position
    # j + 1 means needing at least L − 1 by position j.
    for j in range(len(need) - 2, -1, -1):
        need[j] = max(need[j], need[j + 1] - 1)
    return need


def compose(
    *, size: int, pinned: Sequence[Fixed], guaranteed: Sequence[Fixed],
    sponsored: Sequence[Fixed], sponsored_positions: Sequence[int],
    organic: Sequence[Candidate], new_share: float, guaranteed_by_value: bool = False,
) -> list[Slot]:
    """The response's slots, positions 1..n (n ≤ size), per the module docstring's rules."""
    if size < 0:
        raise ValueError("The size is non-negative.")
    if not 0.0 <= new_share <= 1.0:
        raise ValueError("The new-merchant share is between 0 and 1.")
    if guaranteed_by_value:
        return _compose_by_value(size=size, pinned=pinned, guaranteed=guaranteed,
                                 sponsored=sponsored, sponsored_positions=sponsored_positions,
                                 organic=organic, new_share=new_share)
    layout, used = _place_fixed(size, pinned, guaranteed, sponsored, sponsored_positions)
    pool = [c for c in organic_order(organic) if c.miniapp_id not in used]
    organic_pos = [p for p in range(1, size + 1) if layout[p] is None]
    need = _needed_by(layout, organic_pos, new_share)
    taken = [False] * len(pool)
    best_any = 0  # indices into `pool` of the best not-yet-taken candidate, and best new one
    best_new = 0
    placed_new = 0
    for j, pos in enumerate(organic_pos):
        while best_any < len(pool) and taken[best_any]:
            best_any += 1
        while best_new < len(pool) and (taken[best_new] or not pool[best_new].is_new):
            best_new += 1
        if best_any >= len(pool):
            break
        pick = best_new if placed_new < need[j] and best_new < len(pool) else best_any
        taken[pick] = True
        placed_new += pool[pick].is_new
        layout[pos] = _organic_slot(pos, pool[pick])
    return _closed(layout)


def _compose_by_value(
    *, size: int, pinned: Sequence[Fixed], guaranteed: Sequence[Fixed],
    sponsored: Sequence[Fixed], sponsored_positions: Sequence[int],
    organic: Sequence[Candidate], new_share: float,
) -> list[Slot]:
    """Guaranteed and organic items merged by value over the free positions. Every guaranteed
    item that fits is placed (when the unplaced ones fill the positions left, only they may go:
    promises come before the share, as in `compose`, where they are fixed); otherwise the
    new-merchant share is kept as in `compose` (new items as late as allowed), a promise going
    early enough to leave the positions the share still needs."""
    layout, used = _place_fixed(size, pinned, guaranteed, sponsored, sponsored_positions,
                                place_guaranteed=False)
    free = [p for p in range(1, size + 1) if layout[p] is None]
    must: list[Fixed] = []
    for item in guaranteed:
        if item.miniapp_id not in used and len(must) < len(free):
            used.add(item.miniapp_id)
            must.append(item)
    # One pool, best value first: (value, is guaranteed, the item); ties: guaranteed, then id.
    pool: list[tuple[float, bool, Fixed | Candidate]] = [(g.value, True, g) for g in must]
    pool += [(c.quality * c.relevance, False, c) for c in organic_order(organic)
             if c.miniapp_id not in used]
    pool.sort(key=lambda e: (-e[0], not e[1], e[2].miniapp_id))
    need = _needed_by(layout, free, new_share)
    taken = [False] * len(pool)
    left_must, placed_new = len(must), 0
    left_must_new = sum(g.is_new for g in must)
    for j, pos in enumerate(free):
        left = [i for i in range(len(pool)) if not taken[i]]
        if not left:
            break
        remaining = len(free) - j
        promises = [i for i in left if pool[i][1]]
        new = [i for i in left if pool[i][2].is_new]
        new.sort(key=lambda i: not pool[i][1])  # a new promise first: it serves both
        share_due = placed_new < need[j] and bool(new)
        # The new items the share needs by the end beyond the new promises: with the promises
        # left they are owed the remaining positions, so a promise goes now rather than later.
        owed_new = max(0, (need[-1] if need else 0) - placed_new - left_must_new)
        if promises and left_must >= remaining:  # promises first: each one is delivered
            new_promises = [i for i in new if pool[i][1]]
            pick = new_promises[0] if share_due and new_promises else promises[0]
        elif share_due:
            pick = new[0]
        elif promises and left_must + owed_new >= remaining:
            pick = promises[0]
        else:
            pick = left[0]
        taken[pick] = True
        _value, is_must, chosen = pool[pick]
        left_must -= is_must
        left_must_new -= is_must and chosen.is_new
        placed_new += chosen.is_new
        layout[pos] = (_slot(pos, chosen) if isinstance(chosen, Fixed)
                       else _organic_slot(pos, chosen))
    return _closed(layout)


def _closed(layout: list[Slot | None]) -> list[Slot]:
    """Close up holes (the pool ran out) so positions run 1..n."""
    filled = [s for s in layout[1:] if s is not None]
    return [
        s if s.position == i else Slot(i, s.miniapp_id, s.merchant_id, s.reason, s.is_new,
                                       s.promise_id, s.bid_id, s.price_fen)
        for i, s in enumerate(filled, start=1)
    ]


def gini(values: Iterable[float]) -> float:
    """Gini coefficient of non-negative values (0 = equal, → 1 = concentrated; 0 if empty/zero)."""
    xs = sorted(float(v) for v in values)
    if any(v < 0 for v in xs):
        raise ValueError("Gini needs non-negative values.")
    n, total = len(xs), sum(xs)
    if n == 0 or total == 0:
        return 0.0
    weighted = sum(i * v for i, v in enumerate(xs, start=1))
    return 2.0 * weighted / (n * total) - (n + 1) / n
